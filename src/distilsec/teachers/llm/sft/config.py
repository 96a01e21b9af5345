"""The ``distilsec sft`` config: one YAML file, validated (``extra="forbid"``) before any model is read.

A typo such as ``lora.rank`` is one error naming its path, not a silently ignored key after a 95-second model
load. ``--section.key value`` overrides go through :func:`distilsec.config.apply_overrides`, as for ``run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from distilsec.config import apply_overrides
from distilsec.errors import ConfigError

__all__ = [
    "SftConfig",
    "ModelSection",
    "DataSection",
    "LoraSection",
    "TrainSection",
    "ExportSection",
    "load_sft_config",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSection(_Section):
    #: a shipped GGUF alias (``qwen2.5-coder-0.5b``), a ``.gguf`` file, a HF folder or a HF hub name
    name: str = "qwen2.5-coder-0.5b"
    #: auto picks CUDA (bf16), then Apple MPS (fp32), then CPU (fp32)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    #: auto follows the device (see above); set it to force one
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"


class DataSection(_Section):
    #: a folder holding train.jsonl (and optionally val.jsonl), or the train.jsonl file itself
    train: str = "runs/cti-data"
    #: a val JSONL; unset: <train folder>/val.jsonl when it exists
    val: str | None = None
    max_length: PositiveInt = 512
    #: ``bucket`` groups records of similar length into a batch (less padding); ``none`` keeps file order
    grouping: Literal["bucket", "none"] = "bucket"
    #: use only the first N training records (smoke runs)
    limit: PositiveInt | None = None


class LoraSection(_Section):
    r: PositiveInt = 16
    alpha: PositiveInt = 32
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


class TrainSection(_Section):
    lr: float = Field(2e-4, gt=0.0)
    epochs: PositiveInt = 1
    #: stop after this many optimizer steps (overrides epochs)
    max_steps: PositiveInt | None = None
    batch_size: PositiveInt = 4
    grad_accum: PositiveInt = 1
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0.0)
    gradient_checkpointing: bool = False
    seed: int = 0
    #: write a resumable checkpoint every N optimizer steps (and always at the end)
    save_every: PositiveInt = 50
    #: checkpoints kept on disk (the newest ones)
    keep_checkpoints: PositiveInt = 2


class ExportSection(_Section):
    adapter: bool = True
    merged: bool = True
    #: GGUF files to write from the merged model: f16, q8_0, q4_0 (empty: none)
    gguf: list[Literal["f16", "q8_0", "q4_0"]] = Field(default_factory=lambda: ["f16"])


class SftConfig(_Section):
    model: ModelSection = Field(default_factory=ModelSection)
    data: DataSection = Field(default_factory=DataSection)
    lora: LoraSection = Field(default_factory=LoraSection)
    train: TrainSection = Field(default_factory=TrainSection)
    export: ExportSection = Field(default_factory=ExportSection)


def _format(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return "; ".join(parts)


def load_sft_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> SftConfig:
    """Read, override and validate an SFT config (``path=None``: the defaults); errors name file and key."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{p} must hold a mapping of sections, got {type(data).__name__}")
    data = apply_overrides(data, overrides or {})
    try:
        return SftConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path or 'sft config'}: invalid config: {_format(exc)}") from None
