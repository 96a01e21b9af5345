"""Analyst labels in a run: train/val corrected, test never merged, soft labels overridden, sources counted."""

from __future__ import annotations

import numpy as np
import pytest

from distilsec.data.example import Example
from distilsec.data.label_ledger import LabelLedger
from distilsec.errors import DataError
from distilsec.pipeline.corrections import Corrections, apply_corrections, label_sources, override_soft_targets
from distilsec.tasks.prepare import PreparedData


def _data() -> PreparedData:
    def ex(i: str, label: str, group: str) -> Example:
        return Example(f"text {i}", label, group=group, id=i)

    return PreparedData(
        train=[ex("t1", "benign", "g1"), ex("t2", "malicious", "g2")],
        val=[ex("v1", "benign", "g3")],
        test=[ex("x1", "benign", "g4"), ex("x2", "malicious", "g5")],
        classes=["benign", "malicious"],
        preprocess="none",
    )


def test_train_and_val_take_the_analyst_label_and_test_is_reported_apart(tmp_path):
    led = LabelLedger(tmp_path / "ledger.jsonl")
    for item, label in (("t1", "malicious"), ("t2", "malicious"), ("v1", "malicious"), ("x1", "malicious")):
        led.append("label", item, who="alice", new=label)
    led.append("label", "ghost", who="alice", new="benign")
    led.append("label", "x2", who="alice", new="phishing")
    data, c = apply_corrections(_data(), led.path)
    assert [ex.label for ex in data.train] == ["malicious", "malicious"]
    assert [ex.label for ex in data.val] == ["malicious"]
    assert [ex.label for ex in data.test] == ["benign", "malicious"]  # never merged
    assert c.test == {"x1": ["benign", "malicious"]}
    assert c.by_split["train"] == {"changed": 1, "confirmed": 1} and c.by_split["test"]["changed"] == 1
    assert c.analyst_train == {"t1": "malicious", "t2": "malicious"}
    assert (c.unknown_items, c.unknown_labels, c.decisions) == (1, 1, 6)


def test_analyst_rows_replace_the_teacher_soft_label():
    data = _data()
    c = Corrections(ledger="x", analyst_train={"t1": "malicious"})
    proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    out = override_soft_targets(["benign", "malicious"], data.train, proba, c)
    assert out.tolist() == [[0.0, 1.0], [0.2, 0.8]] and proba[0, 0] == 0.9


def test_label_sources_by_role():
    c = Corrections(ledger="x", analyst_train={"t1": "malicious"})
    assert label_sources("distilled student", 10, c) == {"analyst": 1, "teacher": 9, "original": 0}
    assert label_sources("teacher", 10, c) == {"analyst": 1, "teacher": 0, "original": 9}
    assert label_sources("teacher", 10, c, teacher_reused=True) == {"analyst": 0, "teacher": 0, "original": 10}
    assert label_sources("hard-label student", 10, None) == {"analyst": 0, "teacher": 0, "original": 10}


def test_a_missing_ledger_is_named(tmp_path):
    with pytest.raises(DataError, match="no such ledger file"):
        apply_corrections(_data(), tmp_path / "nope.jsonl")
