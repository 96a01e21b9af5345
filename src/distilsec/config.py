"""Run configuration: one YAML/TOML file fully describes a run (the spaCy pattern).

Schemas are pydantic models with ``extra="forbid"``, so a typo is an error that names its path.
Model sections name a registered factory (``type = "char_cnn.v1"``); their other keys go straight to
its ``__init__``. ``--section.key value`` overrides are applied before validation.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from distilsec.errors import ConfigError

__all__ = ["Config", "ModelSpec", "load_config", "apply_overrides", "config_hash", "dump_config"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunSection(_Section):
    name: str = "run"
    seed: int = 0
    device: str = "auto"
    #: threads for torch on the CPU (0 = torch's default).
    threads: int = 0


class DataSection(_Section):
    #: ``cmdline``, ``url`` and ``html`` read the upstream formats under the data dir; ``table`` reads ``path``;
    #: ``cve`` reads NVD / CVE JSON 5 records and the CWE catalog (settings in the ``cve`` section).
    #: ``html`` reads ``<data_dir>/html/index.csv``, or ``path`` when set (an index CSV or a folder of pages).
    task: Literal["cmdline", "url", "table", "cve", "html"]
    data_dir: str | None = None
    #: cmdline: ``raw`` parses the upstream YAML/Markdown/text; ``jsonl`` the pre-extracted file.
    format: Literal["raw", "jsonl"] = "raw"
    #: restrict to these sources (empty = all).
    sources: list[str] = Field(default_factory=list)
    #: Atomic Red Team: substitute ``#{arg}`` with the test's default values (realistic text).
    substitute_atomic_defaults: bool = True
    #: table task: the file and its columns (html task: an index CSV or a folder of .html files).
    path: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    group_column: str | None = None
    time_column: str | None = None
    #: map raw labels to task labels (e.g. phishing -> malicious); unmapped labels are kept.
    label_map: dict[str, str] = Field(default_factory=dict)
    #: keep at most this many examples after curation (whole groups, stratified by label).
    max_examples: int | None = None
    #: characters kept per text (models read fewer; this bounds memory).
    max_text_chars: int = 4096


class CurationSection(_Section):
    normalise: bool = True
    exact_dedup: bool = True
    conflict_policy: Literal["drop", "keep_malicious", "first"] = "drop"
    near_dup_threshold: float = 0.9
    num_perm: int = 64
    #: near-duplicate shingling reads only the first this many characters of each text (null = all):
    #: near-dedup of MB-sized HTML pages is otherwise slow; shorter texts (commands, URLs) are unaffected.
    shingle_max_chars: int | None = 65536
    shortcut_audit: bool = True


class SplitSection(_Section):
    by: Literal["group", "time"] = "group"
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    time_cutoff: str | None = None


class ModelSpec(BaseModel):
    """``type`` names a registered factory; every other key is a constructor argument."""

    model_config = ConfigDict(extra="allow")
    type: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MethodSection(_Section):
    type: Literal["distill"] = "distill"
    temperature: float = 2.0
    alpha: float = 0.5
    #: also train every student on hard labels only (the baseline distillation must beat).
    hard_label_baseline: bool = True

    @field_validator("alpha")
    @classmethod
    def _alpha_range(cls, v: float) -> float:
        if not 0.0 <= v <= 1.0:
            raise ValueError("alpha must be in [0, 1]")
        return v


class NoiseSection(_Section):
    """Flip a share of the student's training labels; compare hard-label vs distilled training."""

    rates: list[float] = Field(default_factory=list)
    #: which student (a key of ``students``) to run the experiment on.
    student: str | None = None


class EvaluationSection(_Section):
    positive: str = "malicious"
    negative: str = "benign"
    #: the operating threshold is chosen on validation data for this false-positive rate.
    target_fpr: float = 1e-3
    #: events/s on one thread, measured on this many test texts (0 = skip).
    throughput_sample: int = 5000


_CVE_SOURCES = ("nvd-2.0", "nvd-1.1", "cve5")


class DecontaminationSection(_Section):
    """Training records sharing an ID with, or nearly copying, a benchmark are removed (CVE task)."""

    #: benchmark files (CTI-Bench TSV or our JSONL); ``--decontaminate FILE`` adds more.
    benchmarks: list[str] = Field(default_factory=list)
    #: Jaccard similarity of character 5-gram sets at or above which a text is a near-copy.
    threshold: float = 0.7
    #: also remove any training text sharing this many consecutive words with a benchmark (null = off).
    ngram: int | None = None


class CveSection(_Section):
    """The CVE -> CWE / CVSS task (``data.task: cve``): sources, label policy, extra models, output."""

    sources: list[Literal["nvd-2.0", "nvd-1.1", "cve5"]] = Field(default_factory=lambda: list(_CVE_SOURCES))
    #: one record per CVE ID: each field from the first source in this order that has it.
    precedence: list[str] = Field(default_factory=lambda: list(_CVE_SOURCES))
    #: the CWE catalog folder or file, relative to the data dir.
    cwe_path: str = "cwe"
    #: records with several CWEs: keep the primary label (``first``) or drop them.
    multi_cwe: Literal["first", "drop"] = "first"
    #: category labels (NVD's old CWE-264/-399/...): map to the weakness the catalog names, or drop.
    category_policy: Literal["map", "drop"] = "map"
    #: CWE classes with fewer training records are dropped from training (still counted in test).
    min_class_count: int = 5
    #: records published on/after this date are left out (the data's end; null = keep all).
    test_until: str | None = None
    decontamination: DecontaminationSection = Field(default_factory=DecontaminationSection)
    #: the hard-label baseline (the bar): TF-IDF + linear SVM.
    baseline: ModelSpec | None = None
    #: a fine-tuned small encoder, evaluated on ``encoder_eval_samples`` test records (CPU time).
    encoder: ModelSpec | None = None
    encoder_eval_samples: int = 2000
    #: CVSS v3.1 base-metric model (null = no CVSS output).
    cvss: ModelSpec | None = None
    #: which CWE model goes into the shipped bundle: a model name (``student``, ``baseline``, ``teacher``...) or
    #: ``best_val``: the best validation top-1 among the models within ``max_shipped_params``.
    shipped: str = "best_val"
    max_shipped_params: int = 30_000_000
    top_k: int = 3
    #: back off to a parent CWE when the top CWE's probability is below this (null = never).
    backoff_threshold: float | None = 0.5
    #: ms per CVE on one thread, measured on this many test descriptions (0 = skip).
    latency_sample: int = 1000
    #: training weight by who chose a record's labels: the first key that ``label_source`` starts with wins
    #: (``nvd@nist.gov`` for NVD's analysts, ``cna`` for the CVE's CNA, ``cisa-adp`` for CISA); others weigh 1.
    #: New CVEs are labelled by CNAs/CISA, whose practice differs from NVD's (CWE-121 where NVD says 787).
    label_source_weights: dict[str, float] = Field(default_factory=dict)
    #: after evaluation, fit the shipped recipe again on every curated, decontaminated record up to
    #: ``test_until`` (train + val + test): the bundle a user scores new CVEs with has seen the newest label
    #: practice. The time-split model stays in ``DIR/cve-model-heldout`` for evaluating held-out files.
    refit_on_all: bool = True

    @field_validator("label_source_weights")
    @classmethod
    def _positive_weights(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not w > 0}
        if bad:
            raise ValueError(f"weights must be > 0, got {bad}")
        return v


class Config(_Section):
    run: RunSection = Field(default_factory=RunSection)
    data: DataSection
    curation: CurationSection = Field(default_factory=CurationSection)
    split: SplitSection = Field(default_factory=SplitSection)
    teacher: ModelSpec
    #: students by bundle name; the first is the shipped student.
    students: dict[str, ModelSpec]
    method: MethodSection = Field(default_factory=MethodSection)
    noise: NoiseSection = Field(default_factory=NoiseSection)
    evaluation: EvaluationSection = Field(default_factory=EvaluationSection)
    cve: CveSection | None = None

    @field_validator("students")
    @classmethod
    def _some_student(cls, v: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
        if not v:
            raise ValueError("at least one student is required")
        return v


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set ``section.key`` (dotted) values; values given as strings are parsed as YAML scalars.

    A number addresses an item of a list: ``teacher.members.0.epochs`` is the first ensemble member's.
    """
    out = copy.deepcopy(data)
    for dotted, value in overrides.items():
        if isinstance(value, str) and value != "":
            parsed = yaml.safe_load(value)
            # a date such as 2024-01-01 stays the string it was typed as (YAML would make it a date object)
            value = value if isinstance(parsed, datetime.date) else parsed
        node: Any = out
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = _list_item(node, p, dotted) if isinstance(node, list) else node.setdefault(p, {})
            if not isinstance(node, dict | list):
                raise ConfigError(f"override {dotted!r}: {p!r} is not a section")
        if isinstance(node, list):
            index = int(leaf) if leaf.isdigit() else -1
            _list_item(node, leaf, dotted)
            node[index] = value
        else:
            node[leaf] = value
    return out


def _list_item(items: list[Any], key: str, dotted: str) -> Any:
    if not key.isdigit() or int(key) >= len(items):
        raise ConfigError(f"override {dotted!r}: {key!r} is not an index of a list of {len(items)} items")
    return items[int(key)]


def _format_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        lines.append(f"  {loc}: {err['msg']}")
    return "invalid config:\n" + "\n".join(lines)


def validate_config(data: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from None


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Config:
    """Read, override and validate a YAML or TOML config."""
    return validate_config(apply_overrides(_read_mapping(Path(path)), overrides or {}))


def dump_config(config: Config) -> str:
    """The fully resolved config as YAML (every default written out, so runs can be diffed)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def config_hash(config: Config) -> str:
    blob = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
