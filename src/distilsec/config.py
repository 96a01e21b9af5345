"""Run configuration: one YAML/TOML file fully describes a run (the spaCy pattern).

Schemas are pydantic models with ``extra="forbid"``, so a typo is an error that names its path.
Model sections name a registered factory (``type = "char_cnn.v1"``); their other keys go straight to
its ``__init__``. ``--section.key value`` overrides are applied before validation.
"""

from __future__ import annotations

import copy
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
    #: ``cmdline`` and ``url`` read the upstream formats under the data dir; ``table`` reads ``path``.
    task: Literal["cmdline", "url", "table"]
    data_dir: str | None = None
    #: cmdline: ``raw`` parses the upstream YAML/Markdown/text; ``jsonl`` the pre-extracted file.
    format: Literal["raw", "jsonl"] = "raw"
    #: restrict to these sources (empty = all).
    sources: list[str] = Field(default_factory=list)
    #: Atomic Red Team: substitute ``#{arg}`` with the test's default values (realistic text).
    substitute_atomic_defaults: bool = True
    #: table task: the file and its columns.
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
    """Set ``section.key`` (dotted) values; values given as strings are parsed as YAML scalars."""
    out = copy.deepcopy(data)
    for dotted, value in overrides.items():
        if isinstance(value, str):
            value = yaml.safe_load(value) if value != "" else value
        node = out
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {dotted!r}: {p!r} is not a section")
        node[leaf] = value
    return out


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
