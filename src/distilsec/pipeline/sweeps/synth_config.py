"""Config schema of the synthetic-data experiment (the seed's Tables 1 and 2): a run config + ``synth``.

The file is an ordinary run config (``run``, ``data``, ``curation``, ``split``, ``teacher``, ``students``,
``evaluation``...), so every section means what it means for ``distilsec run``; the extra ``synth``
section names the attacks held out (whole brands or binaries), the seeds of each arm and the
generators. Unknown keys are errors that name their path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from distilsec.config import Config, _format_error, _read_mapping, _Section, apply_overrides
from distilsec.errors import ConfigError

__all__ = ["SynthArm", "SynthSection", "SynthConfig", "load_synth_config"]


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


class SynthConfig(Config):
    synth: SynthSection = Field(default_factory=SynthSection)


def load_synth_config(path: str | Path, overrides: dict[str, Any] | None = None) -> SynthConfig:
    """Read a YAML/TOML synthetic-data experiment config, apply ``section.key`` overrides, validate it."""
    raw = apply_overrides(_read_mapping(Path(path)), overrides or {})
    try:
        return SynthConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_format_error(exc)}") from None
