"""MODEL_CARD.md: intended use, data and splits, label sources, metrics at the operating point, audit, limits."""

from __future__ import annotations

from distilsec.config import validate_config
from distilsec.evaluation.model_card import model_card


def test_the_card_has_every_section_with_the_run_figures():
    cfg = validate_config(
        {
            "data": {"task": "cmdline"},
            "teacher": {"type": "hashed_linear.v1"},
            "students": {"student": {"type": "hashed_linear.v1"}},
            "evaluation": {"target_fpr": 0.001},
        }
    )
    metrics = {
        "threshold": 0.8123,
        "tp": 40,
        "fp": 1,
        "tn": 900,
        "fn": 9,
        "macro_f1": 0.93,
        "auc": 0.99,
        "tpr_at_fpr_0.001": 0.77,
        "n": 950,
        "fpr_below_resolution": [],
    }
    report = {
        "read": 1000,
        "curation": {"n_out": 990, "label_conflicts": 3},
        "split": {
            "train": {
                "n": 700,
                "n_groups": 50,
                "by_label": {"benign": 500, "malicious": 200},
                "by_source": {"tldr": 500, "lolbas": 200},
            }
        },
        "warnings": ["val is small"],
    }
    card = model_card(
        "student",
        config=cfg,
        manifest={"type": "char_cnn.v1", "role": "distilled student", "n_parameters": 12345},
        metrics=metrics,
        data_report=report,
        label_sources={"analyst": 12, "teacher": 688, "original": 0},
    )
    for heading in (
        "Intended use",
        "Data and splits",
        "Label sources",
        "Metrics at the operating point",
        "Shortcut audit",
        "Limits",
    ):
        assert f"## {heading}" in card
    assert "process command lines" in card and "at least 0.8123" in card and "12,345 parameters" in card
    assert "| analyst | 12 |" in card and "| 0.8123 |" in card and "TPR @ FPR 0.001" in card
    assert "lolbas (200), tldr (500)" in card and "Data warning: val is small" in card
