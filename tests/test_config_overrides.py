"""``--section.key value`` overrides, list items included (ensemble members)."""

from __future__ import annotations

import pytest

from distilsec.config import apply_overrides, load_config
from distilsec.errors import ConfigError

BASE = {"teacher": {"type": "ensemble.v1", "members": [{"type": "encoder.v1", "epochs": 1}, {"type": "x"}]}}


def test_override_reaches_list_items_and_parses_scalars():
    out = apply_overrides(BASE, {"teacher.members.0.epochs": "2", "run.seed": "7"})
    assert out["teacher"]["members"][0]["epochs"] == 2
    assert out["run"]["seed"] == 7
    assert BASE["teacher"]["members"][0]["epochs"] == 1  # the input is not changed


@pytest.mark.parametrize("key", ["teacher.members.5.epochs", "teacher.members.x.epochs", "teacher.type.x"])
def test_bad_override_paths_are_clear_errors(key):
    with pytest.raises(ConfigError):
        apply_overrides(BASE, {key: 1})


def test_shipped_config_member_override():
    cfg = load_config("configs/cmdline-distill.yaml", {"teacher.members.0.epochs": 2})
    assert cfg.teacher.params["members"][0]["epochs"] == 2


def test_date_override_stays_a_string() -> None:
    """`--split.time_cutoff 2024-01-01` must reach the config as the string typed, not a YAML date."""
    out = apply_overrides(BASE, {"split.time_cutoff": "2024-01-01"})
    assert out["split"]["time_cutoff"] == "2024-01-01"
    assert isinstance(out["split"]["time_cutoff"], str)


def test_label_source_weights_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="weights must be > 0"):
        load_config("configs/cve-cwe.yaml", {"cve.label_source_weights": "{cna: 0}"})
    assert load_config("configs/cve-cwe.yaml").cve.label_source_weights == {"cna": 10.0, "cisa-adp": 10.0}
