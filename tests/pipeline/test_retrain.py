"""``retrain``: the run again with its analyst labels, compared before/after on the same test set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distilsec.data.label_ledger import LabelLedger
from distilsec.data.review_items import read_review_cache
from distilsec.errors import DataError
from distilsec.pipeline.retrain import retrain
from tests.review_run import tiny_run_copy


def test_retrain_counts_corrections_compares_before_after_and_keeps_test_labels(tmp_path):
    run = tiny_run_copy(tmp_path)
    cache = read_review_cache(run / "review")
    ledger = LabelLedger(cache.ledger_path, original=cache.original_labels())
    flip = {"benign": "malicious", "malicious": "benign"}
    by_split: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for it in cache.items.values():
        if it.split in by_split and len(by_split[it.split]) < {"train": 3, "val": 1, "test": 2}[it.split]:
            by_split[it.split].append(it.id)
            ledger.append("label", it.id, who="alice", new=flip[it.label], split=it.split)
    result = retrain(run, retrain_teacher=True)
    assert result.run_dir == run / "retrain-1"
    summary = result.metrics["analyst_corrections"]
    assert summary["by_split"]["train"] == {"changed": 3, "confirmed": 0}
    assert summary["test_corrections"] == 2 and summary["same_test_set"] is True
    assert summary["label_sources"]["student"] == {
        "analyst": 3,
        "teacher": summary["label_sources"]["student"]["teacher"],
        "original": 0,
    }
    assert summary["label_sources"]["teacher"]["analyst"] == 3  # --teacher: refitted on the corrections
    old = json.loads((run / "metrics.json").read_text())["models"]["student"]
    new = result.metrics["models"]["student"]
    assert new["n_positive"] == old["n_positive"] and new["n"] == old["n"]  # the test labels were not merged
    assert set(summary["corrected_test"]["after"]) >= {"student", "teacher"}
    assert set(summary["corrected_test"]["before"]) >= {"student", "teacher"}
    report = (result.run_dir / "report.md").read_text()
    assert "## Analyst corrections" in report and "| train | 3 | 0 | yes |" in report
    assert "On the analyst-corrected test labels (2 corrected" in report
    manifest = json.loads((result.run_dir / "student" / "manifest.json").read_text())
    assert manifest["label_sources"]["analyst"] == 3
    card = (result.run_dir / "student" / "MODEL_CARD.md").read_text()
    assert "| analyst | 3 |" in card and "## Intended use" in card and "## Limits" in card
    # the new run's own review continues the same ledger
    assert LabelLedger(result.run_dir / "review" / "ledger.jsonl").state().labels() == ledger.state().labels()


def test_retrain_without_decisions_says_how_to_make_some(tmp_path):
    run = tiny_run_copy(tmp_path)
    with pytest.raises(DataError, match="distilsec review"):
        retrain(run)


def test_retrain_of_a_task_with_its_own_pipeline_says_so_before_asking_for_decisions(tmp_path):
    from distilsec.errors import ConfigError

    run = tmp_path / "attack-run"
    (run / "splits").mkdir(parents=True)
    shipped = (Path(__file__).resolve().parents[2] / "configs" / "attack-techniques.yaml").read_text()
    (run / "config.yaml").write_text(shipped)
    for name in ("train", "val", "test"):
        (run / "splits" / f"{name}.txt").write_text("x\n")
    with pytest.raises(ConfigError, match="not attack runs"):
        retrain(run)
