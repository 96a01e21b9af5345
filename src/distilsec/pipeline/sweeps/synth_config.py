"""Config of the synthetic-data experiment (the seed's Tables 1 and 2): a run config plus a ``synth`` section.

The schema lives in :mod:`distilsec.config` (the one schema and loader of every command): ``synth`` is an
optional section of :class:`~distilsec.config.Config`. These names stay for the modules and tests that
import them from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from distilsec.config import SynthArm, SynthConfig, SynthSection, load_config

__all__ = ["SynthArm", "SynthSection", "SynthConfig", "load_synth_config"]


def load_synth_config(path: str | Path, overrides: dict[str, Any] | None = None) -> SynthConfig:
    """Read a YAML/TOML synthetic-data experiment config, apply ``section.key`` overrides, validate it."""
    return cast(SynthConfig, load_config(path, overrides, require="synth"))
