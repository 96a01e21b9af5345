"""Run configuration: one YAML/TOML file fully describes a run (the spaCy pattern).

Schemas are pydantic models with ``extra="forbid"``, so a typo is an error that names its path.
Model sections name a registered factory (``type = "char_cnn.v1"``); their other keys go straight to
its ``__init__``. ``--section.key value`` overrides are applied before validation.

The whole config is validated *before* any data is read (a typo must not cost minutes of reading): section
keys and value ranges by the schemas below, and every model section against its factory's ``__init__``
signature and type hints (:func:`check_model_spec`), so ``epochs: two`` or an unknown parameter is one
error naming its path.
"""

from __future__ import annotations

import copy
import datetime
import functools
import hashlib
import inspect
import json
import re
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from distilsec.errors import ConfigError

__all__ = [
    "Config",
    "SemisupConfig",
    "SynthConfig",
    "SemisupSection",
    "BudgetSection",
    "SynthSection",
    "SynthArm",
    "ReviewSection",
    "ModelSpec",
    "load_config",
    "apply_overrides",
    "check_model_spec",
    "config_hash",
    "dump_config",
    "validate_config",
]

#: a share of something, strictly between 0 and 1 (a split fraction, a false-positive rate).
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
#: a similarity threshold in (0, 1].
Similarity = Annotated[float, Field(gt=0.0, le=1.0)]


def _iso_date(v: str | None, key: str) -> str | None:
    """An ISO date/time string (``2023-01-01``); a typo here would otherwise surface after data reading."""
    if v is None:
        return v
    try:
        datetime.datetime.fromisoformat(str(v))
    except ValueError:
        raise ValueError(f"must be an ISO date such as 2023-01-01 ({key}), got {v!r}") from None
    return str(v)


def _label_name(v: Any) -> Any:
    """Labels are strings; ``1``, ``1.5`` or ``true`` typed in YAML or an override name the label ``"1"``...

    YAML turns ``--evaluation.positive 1`` into an int and ``true`` into a bool; a label column read from a
    file holds the text ``1`` / ``true``, so the typed value is turned back into that text.
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    return v


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunSection(_Section):
    name: str = "run"
    seed: int = 0
    device: str = "auto"
    #: threads for torch on the CPU (0 = torch's default).
    threads: NonNegativeInt = 0
    #: ``mlflow``: log the run's params, metrics and artefacts to MLflow (the ``tracking`` extra); null = off.
    #: Left out of config.yaml and the hash when unset.
    tracking: Literal["mlflow"] | None = None
    #: MLflow tracking URI (default: a local file store, ``mlruns/`` beside the run folder).
    tracking_uri: str | None = None


class DataSection(_Section):
    #: ``cmdline``, ``url`` and ``html`` read the upstream formats under the data dir; ``table`` reads ``path``;
    #: ``cve`` reads NVD / CVE JSON 5 records and the CWE catalog (settings in the ``cve`` section).
    #: ``html`` reads ``<data_dir>/html/index.csv``, or ``path`` when set (an index CSV or a folder of pages).
    task: Literal["cmdline", "url", "table", "cve", "html", "attack"]
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
    max_examples: PositiveInt | None = None
    #: keep at most this many examples of one group (e.g. one registrable domain) before the split; unset =
    #: no cap. One crawled site can otherwise be most of a split's negatives (URLs: distractify.com, 961 of
    #: 2,758 ISCX benign test URLs), and every FPR then describes that one site.
    max_per_group: PositiveInt | None = None
    #: characters kept per text (models read fewer; this bounds memory).
    max_text_chars: PositiveInt = 4096

    @field_validator("label_map", mode="before")
    @classmethod
    def _label_map_as_text(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {_label_name(k): _label_name(x) for k, x in v.items()}
        return v


class CurationSection(_Section):
    normalise: bool = True
    exact_dedup: bool = True
    conflict_policy: Literal["drop", "keep_malicious", "first"] = "drop"
    near_dup_threshold: Similarity = 0.9
    num_perm: PositiveInt = 64
    #: near-duplicate shingling reads only the first this many characters of each text (null = all):
    #: near-dedup of MB-sized HTML pages is otherwise slow; shorter texts (commands, URLs) are unaffected.
    shingle_max_chars: PositiveInt | None = 65536
    shortcut_audit: bool = True


class SplitSection(_Section):
    by: Literal["group", "time"] = "group"
    #: validation data chooses the operating threshold: it cannot be empty.
    val_fraction: Fraction = 0.1
    #: ``by: group`` only (``by: time`` tests on everything from ``time_cutoff`` on).
    test_fraction: Fraction = 0.2
    #: ``by: time``: train/val before this ISO date, test from it (required then).
    time_cutoff: str | None = None

    @field_validator("time_cutoff", mode="before")
    @classmethod
    def _cutoff_is_a_date(cls, v: Any) -> Any:
        if isinstance(v, datetime.date):  # YAML reads an unquoted 2023-01-01 as a date
            v = v.isoformat()
        return _iso_date(v, "split.time_cutoff")

    @model_validator(mode="after")
    def _time_needs_cutoff(self) -> SplitSection:
        if self.by == "time" and not self.time_cutoff:
            raise ValueError(
                "by is 'time' but time_cutoff is not set: add time_cutoff: 2023-01-01 (train before, test from)"
            )
        if self.by == "group" and self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction + test_fraction = {self.val_fraction + self.test_fraction:g} leaves no training data"
            )
        return self


class ModelSpec(BaseModel):
    """``type`` names a registered factory; every other key is a constructor argument."""

    model_config = ConfigDict(extra="allow")
    type: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MethodSection(_Section):
    type: Literal["distill"] = "distill"
    temperature: Annotated[float, Field(gt=0.0)] = 2.0
    alpha: float = 0.5
    #: also train every student on hard labels only (the baseline distillation must beat).
    hard_label_baseline: bool = True
    #: perturbed copies of each training text that the teacher labels and the student learns from the teacher
    #: alone ("function matching", :mod:`distilsec.methods.transfer_set`); null = none (plain distillation).
    transfer_copies: PositiveInt | None = None

    @field_validator("alpha")
    @classmethod
    def _alpha_range(cls, v: float) -> float:
        if not 0.0 <= v <= 1.0:
            raise ValueError("alpha must be in [0, 1]")
        return v


class NoiseSection(_Section):
    """Flip a share of the student's training labels; compare hard-label vs distilled training."""

    rates: list[Annotated[float, Field(ge=0.0, lt=1.0)]] = Field(default_factory=list)
    #: which student (a key of ``students``) to run the experiment on.
    student: str | None = None


class EvaluationSection(_Section):
    """The detection view: which label is the alert (positive) and which is the all-clear (negative).

    Left unset, they are inferred from the labels before training (``1/0``, ``bad/good``, ``phishing/
    legitimate``...; see :mod:`distilsec.data.labels`); set them for label sets that cannot be inferred.
    Numbers and booleans name the label as typed (``--evaluation.positive 1`` is the label ``"1"``).
    """

    positive: str = "malicious"
    negative: str = "benign"
    #: the operating threshold is chosen on validation data for this false-positive rate.
    target_fpr: Fraction = 1e-3
    #: events/s on one thread, measured on this many test texts (0 = skip).
    throughput_sample: NonNegativeInt = 5000
    #: where the budget must hold: unset/"pooled" = over all validation negatives; "per_source" = on each
    #: source's validation negatives (the strictest threshold wins), for data whose benign sources differ.
    threshold_scope: Literal["pooled", "per_source"] | None = None

    @field_validator("positive", "negative", mode="before")
    @classmethod
    def _label_as_text(cls, v: Any) -> Any:
        return _label_name(v)

    @model_validator(mode="after")
    def _distinct(self) -> EvaluationSection:
        if self.positive == self.negative:
            raise ValueError(f"evaluation.positive and evaluation.negative are both {self.positive!r}")
        return self


_CVE_SOURCES = ("nvd-2.0", "nvd-1.1", "cve5")


class DecontaminationSection(_Section):
    """Training records sharing an ID with, or nearly copying, a benchmark are removed (CVE task)."""

    #: benchmark files (CTI-Bench TSV or our JSONL); ``--decontaminate FILE`` adds more.
    benchmarks: list[str] = Field(default_factory=list)
    #: Jaccard similarity of character 5-gram sets at or above which a text is a near-copy.
    threshold: Similarity = 0.7
    #: also remove any training text sharing this many consecutive words with a benchmark (null = off).
    ngram: PositiveInt | None = None


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
    min_class_count: PositiveInt = 5
    #: records published on/after this date are left out (the data's end; null = keep all).
    test_until: str | None = None
    decontamination: DecontaminationSection = Field(default_factory=DecontaminationSection)
    #: the hard-label baseline (the bar): TF-IDF + linear SVM.
    baseline: ModelSpec | None = None
    #: a fine-tuned small encoder, evaluated on ``encoder_eval_samples`` test records (CPU time).
    encoder: ModelSpec | None = None
    encoder_eval_samples: NonNegativeInt = 2000
    #: CVSS v3.1 base-metric model (null = no CVSS output).
    cvss: ModelSpec | None = None
    #: which CWE model goes into the shipped bundle: a model name (``student``, ``baseline``, ``teacher``...) or
    #: ``best_val``: the best validation top-1 among the models within ``max_shipped_params``.
    shipped: str = "best_val"
    max_shipped_params: PositiveInt = 30_000_000
    top_k: PositiveInt = 3
    #: back off to a parent CWE when the top CWE's probability is below this (null = never).
    backoff_threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = 0.5
    #: ms per CVE on one thread, measured on this many test descriptions (0 = skip).
    latency_sample: NonNegativeInt = 1000
    #: training weight by who chose a record's labels: the first key that ``label_source`` starts with wins
    #: (``nvd@nist.gov`` for NVD's analysts, ``cna`` for the CVE's CNA, ``cisa-adp`` for CISA); others weigh 1.
    #: New CVEs are labelled by CNAs/CISA, whose practice differs from NVD's (CWE-121 where NVD says 787).
    label_source_weights: dict[str, float] = Field(default_factory=dict)
    #: after evaluation, fit the shipped recipe again on every curated, decontaminated record up to
    #: ``test_until`` (train + val + test): the bundle a user scores new CVEs with has seen the newest label
    #: practice. The time-split model stays in ``DIR/cve-model-heldout`` for evaluating held-out files.
    refit_on_all: bool = True

    @field_validator("test_until", mode="before")
    @classmethod
    def _until_is_a_date(cls, v: Any) -> Any:
        if isinstance(v, datetime.date):
            v = v.isoformat()
        return _iso_date(v, "cve.test_until")

    @field_validator("label_source_weights")
    @classmethod
    def _positive_weights(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not w > 0}
        if bad:
            raise ValueError(f"weights must be > 0, got {bad}")
        return v


class AttackSection(_Section):
    """Threat-report sentences -> ATT&CK techniques (``data.task: attack``): data, split, models, decisions."""

    #: ATT&CK matrices read from ``<data>/attack/<domain>-attack.json.gz``.
    domains: list[Literal["enterprise", "mobile", "ics"]] = Field(default_factory=lambda: ["enterprise"])
    #: entity names in procedure text: ``generic`` ("the malware") so a model learns behaviour, or ``keep``.
    names: Literal["keep", "generic"] = "generic"
    #: negative sentences (label ``none``): group/campaign prose, software identity lines, report boilerplate.
    negatives: bool = True
    #: the first sentences of each technique's own description, and CAPEC patterns linked to it (training only).
    technique_descriptions: bool = True
    capec: bool = True
    val_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.1
    test_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.15
    decontamination: DecontaminationSection = Field(default_factory=DecontaminationSection)
    #: the bar: TF-IDF + linear SVM on hard labels (the TRAM-style baseline).
    baseline: ModelSpec | None = None
    #: the teacher's soft labels for the students' training rows: 0 = from the teacher fitted on all of them
    #: (Hinton's recipe, the default: measured better here), K >= 2 = cross-fitted over K folds of sources.
    oof_folds: Annotated[int, Field(ge=0, le=10)] = 0
    #: semi-supervised: report files or folders (.txt .md .html) the teacher labels, sentence by sentence;
    #: the confident sentences join the students' training with the teacher's soft labels. Sentences that
    #: nearly copy a validation or test sentence are dropped first (a cited report can be in the folder).
    unlabelled: list[str] = Field(default_factory=list)
    #: or measure the method on ATT&CK itself: hide the labels of this share of the training *sources*
    #: (their sentences become the unlabelled pool; the teacher and baseline learn from the rest).
    unlabelled_share: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    #: a pool sentence joins training when the teacher's top probability (``none`` included) is at least this.
    pseudo_label_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    #: at most this many pool sentences per predicted technique, the most confident first (null = no cap).
    pseudo_label_max_per_class: PositiveInt | None = None
    #: which model the shipped bundle wraps: a student name, ``baseline``, ``teacher`` or ``best_val``
    #: (the best validation top-1 among the models within ``max_shipped_params``).
    shipped: str = "best_val"
    max_shipped_params: PositiveInt = 30_000_000
    top_k: PositiveInt = 3
    #: parent back-off ratios tried on validation for ``top`` (plain arg-max is always tried too).
    backoff_ratios: list[Annotated[float, Field(gt=0.0, le=1.0)]] = Field(default_factory=lambda: [0.3, 0.5, 0.7])
    #: a technique gets a threshold of its own when validation holds this many of its sentences.
    min_threshold_support: PositiveInt = 3
    #: sentences/s on one thread, measured on this many test sentences (0 = skip).
    throughput_sample: NonNegativeInt = 2000

    @field_validator("unlabelled", mode="before")
    @classmethod
    def _one_path_is_a_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v  # `--attack.unlabelled reports/` names one folder

    @field_validator("oof_folds")
    @classmethod
    def _folds_or_none(cls, v: int) -> int:
        if v == 1:
            raise ValueError("one fold would fit the teacher on nothing: use 0 (no cross-fitting) or 2 or more")
        return v


class ReviewSection(_Section):
    """The analyst loop (``distilsec review`` / ``retrain``): what a retraining with analyst labels refits."""

    #: refit the teacher on the corrected labels too (else the run's teacher bundle is reused: a teacher
    #: can cost hours to fit, and the analyst's labels already outrank its soft labels for the student).
    retrain_teacher: bool = False


class BudgetSection(_Section):
    """Budget-aware labelling arms (``distilsec semisup budget``): teacher calls spent as shares of the pool."""

    #: shares of the pool the teacher may label (1.0 = label everything, the reference arm).
    fractions: list[float] = Field(default_factory=lambda: [0.05, 0.1, 0.2])
    strategies: list[Literal["uncertainty", "disagreement", "random"]] = Field(
        default_factory=lambda: ["uncertainty", "disagreement", "random"]
    )
    rounds: int = 4
    #: the student's own predictions at or above this confidence join training (null = off).
    self_label_threshold: float | None = 0.95
    #: which student (a key of ``students``) is trained (default: the first).
    student: str | None = None
    #: the second model of the "disagreement" committee (default: the student with another seed).
    committee: ModelSpec | None = None
    #: "same quality" means macro-F1 within this of the reference arm (teacher labels the whole pool).
    tolerance: float = 0.005


class SemisupSection(_Section):
    """The semi-supervised experiments (``distilsec semisup``): how the training split becomes a labelled set
    and an unlabelled pool, and which arms to run. The other sections mean what they mean for ``distilsec run``.
    """

    #: ``task``: the examples of ``data.task``; ``ut1_categories``: website categories of UT1 domains.
    dataset: Literal["task", "ut1_categories"] = "task"
    #: ut1_categories: the categories to classify (each becomes a class).
    categories: list[str] = Field(default_factory=list)
    #: ut1_categories: at most this many domains per category (whole registrable domains).
    per_class: int = 3000
    #: at most this many examples of one group (registrable domain) in every part (null = no cap). Without
    #: it a few big sites can make up most of a split (measured on the URL data: 5 domains = 61% of test),
    #: and every metric then describes those sites rather than URLs in general.
    max_per_group: int | None = None
    #: analyst-labelled examples (whole groups): the teacher's training set.
    labelled: int = 4000
    #: student training examples at every share (the fixed training budget of Figure 2).
    budget: int = 8000
    #: shares of the student's training examples labelled by the teacher instead of the analyst.
    shares: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    targets: list[Literal["hard", "soft"]] = Field(default_factory=lambda: ["hard", "soft"])
    #: also train each student on the analyst-labelled rows alone (what the teacher's rows add).
    truth_only_baseline: bool = True
    #: pseudo-labelling arm: keep teacher labels at or above this confidence (null = skip the arm).
    pseudo_label_threshold: float | None = 0.9
    #: pseudo-labelling rounds (each further round refits the teacher on its confident labels).
    pseudo_label_rounds: int = 1
    #: a fitted teacher bundle to reuse (e.g. ``<figure2 out>/teacher``) instead of fitting ``teacher``
    #: again; it must have been fitted on this config's labelled set (same data, seed and ``labelled``).
    teacher_bundle: str | None = None
    #: teacher-call ledger (SQLite path), "default" (~/.cache/distilsec/teacher), or null (none).
    ledger: str | None = "default"
    budget_labelling: BudgetSection = Field(default_factory=BudgetSection)

    @field_validator("max_per_group")
    @classmethod
    def _positive_cap(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError("max_per_group must be >= 1 (or null for no cap)")
        return v

    @field_validator("shares")
    @classmethod
    def _shares_in_range(cls, v: list[float]) -> list[float]:
        if not v or any(not 0.0 <= s <= 1.0 for s in v):
            raise ValueError("shares must be a non-empty list of values in [0, 1]")
        return sorted(v)


class SynthArm(_Section):
    """One model trained with synthetic data: which seeds, which generator."""

    #: ``all``: every malicious training example of the production split; ``groups``: only those of
    #: ``seed_groups`` (the seed's V2: one brand / one binary), matched as ``synth.holdout_by`` says.
    seeds: Literal["all", "groups"] = "all"
    seed_groups: list[str] = Field(default_factory=list)
    generator: Literal["mutate", "llm"] = "mutate"
    #: at most this many seeds (a seeded sample; LLM calls are the CPU cost).
    max_seeds: int | None = None
    n_per_seed: int = 4


class SynthSection(_Section):
    """The synthetic-data experiment (``distilsec synth-tables``, the seed's Tables 1 and 2): the attacks held
    out (whole brands or binaries), the seeds of each arm and the generators.
    """

    #: what the texts are for the generators and filters (default: ``data.task``; set it when
    #: ``data.task`` is ``table``, e.g. your own command-line telemetry).
    task: Literal["cmdline", "url", "html"] | None = None
    #: what identifies an attack: the example's ``group`` (a binary, a technique), ``meta["brand"]``, or
    #: ``mentions``: the text names it as a word (``certutil`` matches ``C:\\...\\CertUtil.exe -f``), so a
    #: held-out binary leaves *every* source (LOLBAS entries and Atomic tests that call it alike).
    holdout_by: Literal["group", "brand", "mentions"] = "group"
    #: held-out attacks (Table 1): never in training, validation or the general test set.
    holdout: list[str] = Field(default_factory=list)
    #: the class whose new variants are generated (the attack class).
    positive: str = "malicious"
    #: arms by name, in table order (the production model, trained without synthetic data, is always first).
    arms: dict[str, SynthArm] = Field(default_factory=lambda: {"V1": SynthArm(), "V2": SynthArm(seeds="groups")})
    #: which student (a key of ``students``) is trained for every arm (default: the first).
    student: str | None = None
    #: label check of generated samples: ``teacher`` (fit the config's teacher on the production
    #: training split), a ``students`` key (that model, fitted likewise), or ``none``.
    judge: str = "none"
    judge_threshold: float = 0.5
    near_dup_threshold: float = 0.9
    #: LLM generator settings (``generator: llm`` arms): model alias/path or served name, endpoint.
    llm_model: str = "qwen2.5-coder-0.5b"
    llm_endpoint: str | None = None
    llm_temperature: float = 0.8
    llm_threads: int = 2
    llm_max_tokens: int | None = None
    ledger: str | None = "default"
    #: target brands of generated pages (html; names matched against the mutator's brand list;
    #: empty = the generator's defaults).
    target_brands: list[str] = Field(default_factory=list)


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
    attack: AttackSection | None = None
    #: the analyst loop's settings (``distilsec retrain``); left out of config.yaml and the hash when unset.
    review: ReviewSection | None = None
    #: the semi-supervised experiments' settings (``distilsec semisup``; ``distilsec run`` ignores them).
    semisup: SemisupSection | None = None
    #: the synthetic-data experiment's settings (``distilsec synth-tables``; ``distilsec run`` ignores them).
    synth: SynthSection | None = None

    @field_validator("students")
    @classmethod
    def _some_student(cls, v: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
        if not v:
            raise ValueError("at least one student is required")
        return v

    @model_validator(mode="after")
    def _whole_config(self) -> Config:
        """Cross-section rules and every model section's parameters, so no mistake waits for the data."""
        problems = _cross_section_problems(self)
        for path, spec in _model_specs(self):
            problems += check_model_spec(spec, path)
        if problems:
            raise PydanticCustomError("config", "{detail}", {"detail": "\n  ".join(problems)})
        return self


class SemisupConfig(Config):
    """A config read for ``distilsec semisup``: the ``semisup`` section is there (its defaults when omitted)."""

    semisup: SemisupSection = Field(default_factory=SemisupSection)


class SynthConfig(Config):
    """A config read for ``distilsec synth-tables``: the ``synth`` section is there (its defaults when omitted)."""

    synth: SynthSection = Field(default_factory=SynthSection)


#: the experiment sections a command can require, and the schema that fills in their defaults
_SCHEMAS: dict[str | None, type[Config]] = {None: Config, "semisup": SemisupConfig, "synth": SynthConfig}
#: sections left out of ``config.yaml`` and the hash when unset, so that adding one changed no run's hash
_DROPPED_WHEN_UNSET = ("semisup", "synth", "attack", "review")
#: ``run`` keys left out the same way (added after runs were hashed)
_RUN_KEYS_DROPPED_WHEN_UNSET = ("tracking", "tracking_uri")
#: evaluation keys left out of config.yaml and the hash while unset (added after runs were recorded).
_EVALUATION_KEYS_DROPPED_WHEN_UNSET = ("threshold_scope",)
_DATA_KEYS_DROPPED_WHEN_UNSET = ("max_per_group",)
_METHOD_KEYS_DROPPED_WHEN_UNSET = ("transfer_copies",)


def _cross_section_problems(config: Config) -> list[str]:
    out = []
    data = config.data
    if data.task == "table" and not data.path:
        out.append("data.path: data.task 'table' needs the file to read (a CSV, TSV, JSONL or Parquet file)")
    if data.task == "table" and config.split.by == "time" and not data.time_column:
        out.append("data.time_column: split.by 'time' on a table needs the column that holds each row's time")
    if data.task == "cve" and config.split.by != "time":
        out.append("split.by: the CVE task splits by time: set split.by: time and split.time_cutoff")
    if data.task == "attack" and config.attack is None:
        out.append("attack: data.task 'attack' needs an attack section (see configs/attack-techniques.yaml)")
    if config.noise.student is not None and config.noise.student not in config.students:
        out.append(f"noise.student: {config.noise.student!r} is not a student; students: {', '.join(config.students)}")
    return out


def _model_specs(node: BaseModel, prefix: str = "") -> Iterator[tuple[str, ModelSpec]]:
    """Every model section of a config (teacher, students, cve.baseline, semisup committee...) with its path."""
    for name in type(node).model_fields:
        value = getattr(node, name)
        path = f"{prefix}{name}"
        if isinstance(value, ModelSpec):
            yield path, value
        elif isinstance(value, BaseModel):
            yield from _model_specs(value, f"{path}.")
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, ModelSpec):
                    yield f"{path}.{key}", item


#: integer hyperparameters that must be at least 1 whatever the model (a size, a count of passes).
_POSITIVE_PARAMS = frozenset(
    {
        "epochs",
        "batch_size",
        "max_len",
        "max_length",
        "max_chars",
        "max_bytes",
        "max_features",
        "n_features",
        "n_filters",
        "n_chunks",
        "embedding_dim",
        "hidden_dim",
        "hidden_dims",
        "kernel_sizes",
        "ngram_range",
        "max_train_samples",
        "n_ctx",
        "max_shot_chars",
        "max_input_chars",
        "top_k",
    }
)


@functools.cache
def _params_model(type_name: str) -> tuple[type[BaseModel], dict[str, Any]] | None:
    """A pydantic model of a registered factory's keyword arguments (from its signature and type hints).

    Returns None for a factory that takes ``**kwargs`` (nothing can be checked); the dict holds defaults.
    """
    from distilsec.registry import get_factory

    factory = get_factory(type_name)
    init = factory.__init__ if inspect.isclass(factory) else factory
    try:
        hints = typing.get_type_hints(init)
    except (NameError, TypeError):  # a hint that cannot be resolved: check names, not types
        hints = {}
    fields: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for name, p in inspect.signature(factory).parameters.items():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind is p.VAR_POSITIONAL:
            continue
        default = ... if p.default is p.empty else p.default
        fields[name] = (hints.get(name, Any), default)
        defaults[name] = default
    model = create_model(
        f"{type_name}_params", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields
    )
    return model, defaults


def _range_problems(name: str, value: Any, default: Any) -> str | None:
    """Negative values where the default is not, and zero for sizes/counts (see ``_POSITIVE_PARAMS``)."""
    values = value if isinstance(value, list | tuple) else [value]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if name in _POSITIVE_PARAMS and any(v < 1 for v in numbers):
        return f"must be at least 1, got {value!r}"
    defaults = default if isinstance(default, list | tuple) else [default]
    default_nonneg = all(isinstance(d, int | float) and not isinstance(d, bool) and d >= 0 for d in defaults)
    if default_nonneg and defaults and any(v < 0 for v in numbers):
        return f"must not be negative, got {value!r}"
    return None


def check_model_spec(spec: ModelSpec | dict[str, Any], path: str) -> list[str]:
    """Problems with one model section (``path: message`` lines); coerces ``epochs: 2.0`` to ``2`` in place.

    The registered factory's ``__init__`` is the schema: unknown keys, wrong types and nonsensical sizes
    are found here, before any data is read, instead of as a ``TypeError`` minutes into training.
    Nested sections (``ensemble.v1`` members) are checked too.
    """
    raw = dict(spec.params) if isinstance(spec, ModelSpec) else {k: v for k, v in spec.items() if k != "type"}
    type_name = spec.type if isinstance(spec, ModelSpec) else spec.get("type")
    if not isinstance(type_name, str) or not type_name:
        return [f"{path}.type: every model section needs a type (a registered name such as char_cnn.v1)"]
    try:
        built = _params_model(type_name)
    except ConfigError as exc:
        return [f"{path}.type: {exc}"]
    if built is None:
        return []
    model, defaults = built
    problems: list[str] = []
    params = dict(raw)
    if "view" in params:  # any model may read a view of the text (viewed.v1); the name is checked at fit
        view = params.pop("view")
        if not isinstance(view, str) or not re.fullmatch(r"[a-z0-9_]+\.v\d+", view):
            problems.append(f"{path}.view: a view name with its version such as decoded.v1, got {view!r}")
    if ".members." in path and "weight" in params:  # an ensemble member's weight is the ensemble's, not its own
        weight = params.pop("weight")
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
            problems.append(f"{path}.weight: must be a positive number, got {weight!r}")
    try:
        checked = model.model_validate(params)
    except ValidationError as exc:
        known = ", ".join(sorted(defaults))
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"{path}.{where}: {type_name} has no parameter {where!r}; it takes: {known}")
            elif err["type"] == "missing":
                problems.append(f"{path}.{where}: {type_name} needs this parameter")
            else:
                problems.append(f"{path}.{where}: {err['msg']} (got {err.get('input')!r})")
        return problems
    coerced = {k: getattr(checked, k) for k in params}
    for name, value in coerced.items():
        problem = _range_problems(name, value, defaults.get(name))
        if problem:
            problems.append(f"{path}.{name}: {problem}")
        if isinstance(value, int | float | str) and type(value) is not type(raw[name]):
            _set_param(spec, name, value)
        if isinstance(raw[name], list | tuple):
            for i, item in enumerate(raw[name]):
                if isinstance(item, dict) and "type" in item:
                    problems += check_model_spec(item, f"{path}.{name}.{i}")
    return problems


def _set_param(spec: ModelSpec | dict[str, Any], name: str, value: Any) -> None:
    if isinstance(spec, ModelSpec):
        if spec.__pydantic_extra__ is not None:
            spec.__pydantic_extra__[name] = value
    else:
        spec[name] = value


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError) as exc:  # ValueError: a date such as 2023-13-01
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
            try:
                parsed = yaml.safe_load(value)
            except (yaml.YAMLError, ValueError):  # e.g. 2023-13-01: YAML's date parser raises; keep the text
                parsed = value
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
    """One line per problem, each starting with the config path to fix (``students.student.epochs: ...``)."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("int_parsing", "float_parsing", "bool_parsing", "literal_error", "string_type"):
            msg = f"{msg} (got {err.get('input')!r})"
        lines += (f"{loc}: {msg}" if loc else msg).split("\n  ")
    if len(lines) == 1:
        return f"invalid config: {lines[0]}"
    return "invalid config:\n" + "\n".join(f"  {line}" for line in lines)


def validate_config(data: dict[str, Any], *, require: str | None = None) -> Config:
    """Validate a config mapping; ``require="semisup"``/``"synth"`` also fills in that section's defaults."""
    try:
        return _SCHEMAS[require].model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from None


def load_config(
    path: str | Path, overrides: dict[str, Any] | None = None, *, require: Literal["semisup", "synth"] | None = None
) -> Config:
    """Read, override and validate a YAML or TOML config (the one loader of every command).

    ``require`` names an experiment section the command needs (``semisup``, ``synth``): the result is then a
    :class:`SemisupConfig` / :class:`SynthConfig` whose section holds its defaults when the file omits it.
    A problem is one :class:`~distilsec.errors.ConfigError` that names the file and the key.
    """
    data = apply_overrides(_read_mapping(Path(path)), overrides or {})
    try:
        return validate_config(data, require=require)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _as_dict(config: Config) -> dict[str, Any]:
    """The config as JSON-able data, without the experiment sections it does not use (see ``_DROPPED_WHEN_UNSET``)."""
    data = config.model_dump(mode="json")
    for name in _DROPPED_WHEN_UNSET:
        if data.get(name, 0) is None:
            del data[name]
    for key in _RUN_KEYS_DROPPED_WHEN_UNSET:
        if data["run"].get(key, 0) is None:
            del data["run"][key]
    for key in _EVALUATION_KEYS_DROPPED_WHEN_UNSET:
        if data.get("evaluation", {}).get(key, 0) is None:
            del data["evaluation"][key]
    for key in _DATA_KEYS_DROPPED_WHEN_UNSET:
        if data.get("data", {}).get(key, 0) is None:
            del data["data"][key]
    for key in _METHOD_KEYS_DROPPED_WHEN_UNSET:
        if data.get("method", {}).get(key, 0) is None:
            del data["method"][key]
    return data


def dump_config(config: Config) -> str:
    """The fully resolved config as YAML (every default written out, so runs can be diffed)."""
    return yaml.safe_dump(_as_dict(config), sort_keys=False)


def config_hash(config: Config) -> str:
    """SHA-256 of the resolved config: runs with equal hashes were asked to do the same thing."""
    blob = json.dumps(_as_dict(config), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
