"""The teacher check: a teacher no better than the best student is said so; thresholds that do not transfer too."""

from __future__ import annotations

import numpy as np

from distilsec.evaluation.teacher_check import teacher_check, teacher_check_markdown, threshold_transfer

CLASSES = ["benign", "malicious"]


class _View:
    positive, negative, target_fpr = "malicious", "benign", 0.01


def _proba(scores: np.ndarray) -> np.ndarray:
    return np.column_stack([1 - scores, scores])


def _case(teacher_quality: float):
    rng = np.random.default_rng(0)
    labels = ["malicious"] * 50 + ["benign"] * 450
    y = np.array(labels) == "malicious"
    good = np.where(y, 0.8, 0.2) + rng.normal(0, 0.1, 500)
    weak = np.where(y, 0.6, 0.4) + rng.normal(0, 0.2, 500)
    teacher = good if teacher_quality > 0 else weak
    student = weak if teacher_quality > 0 else good
    dev = {"teacher": _proba(np.clip(teacher, 0, 1)), "student-hard": _proba(np.clip(student, 0, 1))}
    roles = {"teacher": "teacher", "student-hard": "hard-label student"}
    test = {"teacher": {"auc": 0.9, "tpr_at_fpr_0.01": 0.8}, "student-hard": {"auc": 0.8, "tpr_at_fpr_0.01": 0.5}}
    if teacher_quality < 0:
        test = {"teacher": {"auc": 0.8, "tpr_at_fpr_0.01": 0.5}, "student-hard": {"auc": 0.9, "tpr_at_fpr_0.01": 0.8}}
    return dev, roles, labels, test


def test_a_teacher_better_than_the_student_gives_no_warning():
    check = teacher_check(*_case(+1), classes=CLASSES, view=_View())
    assert check["warning"] is None and check["margin_val"] > 0 and check["margin_test"] > 0
    assert check["best_student"] == "student-hard"


def test_a_teacher_worse_than_the_student_is_warned_about():
    check = teacher_check(*_case(-1), classes=CLASSES, view=_View())
    assert check["margin_val"] < 0 and "not better than the best student" in check["warning"]
    assert "Warning" in teacher_check_markdown(check)


def test_too_few_validation_positives_give_rows_but_no_verdict():
    dev, roles, labels, test = _case(-1)
    labels = ["malicious"] * 5 + ["benign"] * 495
    check = teacher_check(dev, roles, labels, test, classes=CLASSES, view=_View())
    assert check["warning"] is None and "too few" in check["note"] and check["rows"]


def test_threshold_transfer_flags_a_source_only_where_measurable():
    rows = [
        {"value": "iscx", "n_negative": 2000, "false_positive_rate": 0.094, "fp": 188},
        {"value": "tranco", "n_negative": 5000, "false_positive_rate": 0.0008, "fp": 4},
        {"value": "tiny", "n_negative": 50, "false_positive_rate": 0.02, "fp": 1},
    ]
    out = threshold_transfer({"student": {"by_source": {"rows": rows}}}, target_fpr=0.001)
    holds = {p["source"]: p["holds"] for p in out["models"]["student"]}
    assert holds == {"iscx": False, "tranco": True, "tiny": None}
    assert len(out["warnings"]) == 1 and "iscx" in out["warnings"][0]
