"""CTI-Bench ATE metrics: micro/macro-F1, exact-set match, per-row precision/recall, technique levels."""

from __future__ import annotations

from functools import partial

import pytest

from distilsec.evaluation.ate_metrics import at_level, ate_metrics, parent_of, resolve_level

approx = partial(pytest.approx, abs=1e-4)  # the F1s and means are rounded to 4 decimals


def test_metrics_by_hand():
    gt = [{"T1071", "T1059"}, {"T1566"}, {"T1005"}]
    pred = [{"T1071", "T1059"}, {"T1566", "T1105"}, set()]
    m = ate_metrics(gt, pred)
    # TP 3 (T1071, T1059, T1566), FP 1 (T1105), FN 1 (T1005)
    assert (m["true_positives"], m["false_positives"], m["false_negatives"]) == (3, 1, 1)
    assert m["micro_precision"] == pytest.approx(0.75) and m["micro_recall"] == pytest.approx(0.75)
    assert m["micro_f1"] == approx(0.75)
    # per technique F1: T1071 1, T1059 1, T1566 1, T1105 0 (predicted, never true), T1005 0 (missed)
    assert m["macro_f1"] == approx(3 / 5) and m["techniques"] == 5
    assert m["exact_match"] == approx(1 / 3)
    assert m["mean_precision"] == approx((1 + 0.5 + 0) / 3)
    assert m["mean_recall"] == approx((1 + 1 + 0) / 3)
    assert m["rows"] == 3


def test_empty_rows_and_perfect_answers():
    nothing = ate_metrics([set()], [set()])  # nothing to find, nothing claimed
    assert nothing["mean_precision"] == nothing["mean_recall"] == 1.0
    assert ate_metrics([set()], [{"T1"}])["mean_recall"] == 0.0
    perfect = ate_metrics([{"T1"}, {"T2", "T3"}], [{"T1"}, {"T3", "T2"}])
    assert perfect["micro_f1"] == perfect["macro_f1"] == perfect["exact_match"] == 1.0
    assert ate_metrics([], [])["micro_f1"] == 0.0
    with pytest.raises(ValueError, match="2 ground-truth rows but 1"):
        ate_metrics([{"T1"}, {"T2"}], [{"T1"}])


def test_auto_level_is_parent_when_the_gt_names_no_subtechnique():
    assert resolve_level([("T1071", "T1059")]) == "parent"
    assert resolve_level([("T1071",), ("T1059.001",)]) == "exact"
    assert resolve_level([("T1071.001",)], "parent") == "parent"
    with pytest.raises(ValueError, match="level must be one of"):
        resolve_level([], "loose")


def test_a_correct_subtechnique_counts_at_parent_level_and_not_at_exact_level():
    gt, pred = [("T1071",)], [{"T1071.001"}]
    assert ate_metrics([at_level(g, "parent") for g in gt], [at_level(p, "parent") for p in pred])["micro_f1"] == 1.0
    assert ate_metrics([at_level(g, "exact") for g in gt], [at_level(p, "exact") for p in pred])["micro_f1"] == 0.0
    assert at_level(["T1055.011", "T1055"], "parent") == {"T1055"} and parent_of("T1055") == "T1055"
    with pytest.raises(ValueError, match="resolve 'auto' first"):
        at_level(["T1"], "auto")
