"""Config of the semi-supervised experiments: a run config plus a ``semisup`` section.

The schema lives in :mod:`distilsec.config` (the one schema and loader of every command): ``semisup`` is an
optional section of :class:`~distilsec.config.Config`. These names stay for the modules and tests that
import them from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from distilsec.config import BudgetSection, SemisupConfig, SemisupSection, load_config

__all__ = ["SemisupConfig", "SemisupSection", "BudgetSection", "load_semisup_config"]


def load_semisup_config(path: str | Path, overrides: dict[str, Any] | None = None) -> SemisupConfig:
    """Read, override and validate a semi-supervised experiment config (YAML or TOML)."""
    return cast(SemisupConfig, load_config(path, overrides, require="semisup"))
