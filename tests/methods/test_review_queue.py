"""The review queue ranks the items an analyst should see first, and says why."""

from __future__ import annotations

import numpy as np

from distilsec.methods.review_queue import QueueInputs, predicted_labels, rank_queue

CLASSES = ["benign", "malicious"]


def _p(alert: list[float]) -> np.ndarray:
    a = np.array(alert)
    return np.stack([1 - a, a], axis=1)


def test_predicted_labels_apply_the_threshold_to_the_alert_score():
    assert predicted_labels(_p([0.2, 0.6, 0.9]), CLASSES, "benign", 0.7) == ["benign", "benign", "malicious"]
    assert predicted_labels(_p([0.2, 0.6]), CLASSES, None, None) == ["benign", "malicious"]


def test_disagreement_and_doubt_come_first_and_quiet_items_stay_out():
    x = QueueInputs(
        split=["train", "train", "train", "train"],
        label=["benign", "benign", "malicious", "benign"],
        classes=CLASSES,
        negative="benign",
        teacher_proba=_p([0.02, 0.95, 0.97, 0.03]),
        student_proba=_p([0.03, 0.10, 0.999, 0.02]),
        teacher_threshold=0.5,
        student_threshold=0.9,
        doubt=np.array([0.02, 0.9, 0.03, 0.05]),
    )
    r = rank_queue(x)
    assert r.order == [1]  # the only item worth a look: label benign, teacher malicious, doubtful
    assert any("teacher says 'malicious'" in why for why in r.reasons[1])
    assert any("original label doubtful" in why for why in r.reasons[1])
    assert r.reasons[0] == []


def test_errors_of_the_last_evaluation_count_on_val_and_test_only():
    x = QueueInputs(
        split=["train", "test", "val"],
        label=["benign", "benign", "malicious"],
        classes=CLASSES,
        negative="benign",
        student_proba=_p([0.99, 0.99, 0.01]),
        student_threshold=0.5,
    )
    r = rank_queue(x, min_value=0.0)
    assert r.signals["error"].tolist() == [0.0, 1.0, 1.0]
    assert "false positive of the last evaluation" in r.reasons[1][0]
    assert "false negative of the last evaluation" in r.reasons[2][0]


def test_a_training_correction_outranks_the_same_evidence_on_test_and_size_caps_the_queue():
    x = QueueInputs(split=["test", "train"], label=["benign", "benign"], classes=CLASSES, doubt=np.array([0.9, 0.9]))
    r = rank_queue(x)
    assert r.order == [1, 0]
    assert rank_queue(x, size=1).order == [1]


def test_conflicts_are_named():
    x = QueueInputs(split=["dropped"], label=[None], classes=CLASSES, conflict=["label conflict in curation: ..."])
    r = rank_queue(x)
    assert r.order == [0] and r.reasons[0] == ["label conflict in curation: ..."]
