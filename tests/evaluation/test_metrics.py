"""Metrics on deterministic synthetic scores: hand-computed cases, a brute-force reference, edge cases."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from distilsec.evaluation.metrics import (
    MAX_GROUP_ROWS,
    binary_scores,
    choose_threshold,
    evaluate,
    to_jsonable,
    tpr_at_fpr,
    tpr_at_fpr_detail,
)

CLASSES = ["benign", "malicious"]


def _proba(p_malicious: np.ndarray) -> np.ndarray:
    return np.stack([1 - p_malicious, p_malicious], axis=1)


def _labels(yb: np.ndarray) -> list[str]:
    return ["malicious" if v else "benign" for v in yb]


def _brute_tpr(y: np.ndarray, s: np.ndarray, target: float) -> float:
    """Max TPR over every threshold ("flag score >= t", t in the scores or +inf) with FPR <= target."""
    best = 0.0
    for t in [*np.unique(s), np.inf]:
        flagged = s >= t
        if flagged[y == 0].mean() <= target:
            best = max(best, flagged[y == 1].mean())
    return best


def _val_fpr(y: np.ndarray, s: np.ndarray, t: float) -> float:
    return float((s[y == 0] >= t).mean())


# ---------------------------------------------------------------------------------------- tpr_at_fpr


def test_tpr_at_fpr_hand_computed():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.5, 0.6, 0.95])
    # FPR 0: only 0.95 is above the top negative (0.9)
    assert tpr_at_fpr(y, s, 0.0) == 0.25
    assert tpr_at_fpr(y, s, 0.24) == 0.25
    # one false positive allowed (0.9): everything down to 0.4 is flagged
    assert tpr_at_fpr(y, s, 0.25) == 1.0
    d = tpr_at_fpr_detail(y, s, 0.25)
    assert (d.threshold, d.fpr, d.n_negatives, d.n_positives) == (0.4, 0.25, 4, 4)


def test_tpr_at_fpr_ties_are_flagged_together():
    # a positive and a negative tie at the top score: at FPR 0 neither can be flagged
    y = np.array([1, 0, 1, 1, 0, 0])
    s = np.array([0.9, 0.9, 0.8, 0.8, 0.3, 0.2])
    assert tpr_at_fpr(y, s, 0.0) == 0.0
    assert tpr_at_fpr(y, s, 0.33) == 0.0  # 1/3 FPR is needed to take the tie
    assert tpr_at_fpr(y, s, 1 / 3) == 1.0
    d = tpr_at_fpr_detail(y, s, 0.0)
    assert d.threshold == math.inf and d.fpr == 0.0


def test_tpr_at_fpr_infinite_scores_tie():
    y = np.array([1, 0, 1, 0])
    s = np.array([np.inf, np.inf, 1.0, 0.0])
    assert tpr_at_fpr(y, s, 0.0) == 0.0
    assert tpr_at_fpr(y, s, 0.5) == 1.0


@pytest.mark.parametrize("y", [[1, 1, 1], [0, 0, 0], []])
def test_tpr_at_fpr_one_class_is_nan(y):
    s = np.linspace(0, 1, len(y))
    assert math.isnan(tpr_at_fpr(np.array(y, dtype=int), s, 0.01))


@pytest.mark.parametrize("seed", range(5))
def test_tpr_at_fpr_matches_brute_force_with_many_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) * 0.5 + 0.4 * y, 1)  # few distinct values: many ties
    for target in (0.0, 0.01, 0.05, 0.1, 0.3, 1.0):
        assert tpr_at_fpr(y, s, target) == pytest.approx(_brute_tpr(y, s, target), abs=1e-12)


def test_resolution_limit_reported():
    y = np.array([0] * 100 + [1] * 10)
    s = np.r_[np.linspace(0, 0.5, 100), np.linspace(0.4, 1, 10)]
    coarse, fine = tpr_at_fpr_detail(y, s, 1e-2), tpr_at_fpr_detail(y, s, 1e-3)
    assert coarse.min_measurable_fpr == pytest.approx(0.01)
    assert coarse.resolvable and not fine.resolvable
    assert fine.n_negatives == 100 and fine.fpr == 0.0


@pytest.mark.parametrize(
    ("y", "s", "fpr"),
    [
        ([0, 1], [0.1, np.nan], 0.1),
        ([0, 1, 1], [0.1, 0.2], 0.1),
        ([0, 2], [0.1, 0.2], 0.1),
        ([0, 1], [0.1, 0.2], 1.5),
    ],
)
def test_tpr_at_fpr_rejects_bad_input(y, s, fpr):
    with pytest.raises(ValueError):
        tpr_at_fpr(np.array(y), np.array(s), fpr)


# ----------------------------------------------------------------------------------- choose_threshold


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("target", [0.0, 1e-3, 1e-2, 0.1])
def test_choose_threshold_respects_target_and_is_smallest(seed, target):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 2000)
    s = np.round(rng.normal(0.3 + 0.3 * y, 0.15), 3)
    t = choose_threshold(y, s, target)
    assert _val_fpr(y, s, t) <= target
    lower = s[s < t]
    if len(lower):  # the next lower candidate would break the budget
        assert _val_fpr(y, s, lower.max()) > target
    # and it reaches the best TPR within budget
    assert (s[y == 1] >= t).mean() == pytest.approx(_brute_tpr(y, s, target))


def test_choose_threshold_impossible_target_flags_nothing():
    y = np.array([0, 1, 1, 0])
    s = np.array([0.99, 0.9, 0.8, 0.1])  # a negative scores highest
    t = choose_threshold(y, s, 0.0)
    assert t > 0.99 and t == pytest.approx(0.99)
    assert not (s >= t).any()


def test_choose_threshold_hand_computed_with_ties():
    y = np.array([1, 0, 1, 1, 0, 0])
    s = np.array([0.9, 0.9, 0.8, 0.8, 0.3, 0.2])
    assert choose_threshold(y, s, 0.0) == pytest.approx(np.nextafter(0.9, 1))
    assert choose_threshold(y, s, 1 / 3) == 0.8
    assert choose_threshold(y, s, 1.0) == 0.2


def test_choose_threshold_needs_negatives():
    with pytest.raises(ValueError, match="no negatives"):
        choose_threshold(np.array([1, 1]), np.array([0.2, 0.3]), 0.01)
    with pytest.raises(ValueError, match="empty"):
        choose_threshold(np.array([], dtype=int), np.array([]), 0.01)


# ------------------------------------------------------------------------------------------- evaluate


def _split(seed: int, n: int, signal: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4 == 0  # 25 % positives
    s = np.clip(rng.random(n) * (1 - signal) + signal * y, 0, 1)
    return y, s


def test_evaluate_perfect_classifier():
    yv, sv = _split(0, 2000, 0.6)  # negatives score in [0, 0.4), positives in [0.6, 1)
    yt, st = _split(1, 2000, 0.6)
    t = choose_threshold(yv, sv, 0.0)
    assert 0.4 < t < 0.61  # at the lowest validation positive
    t = 0.5
    m = evaluate(_labels(yt), _proba(st), CLASSES, threshold=t)
    assert m["auc"] == 1.0
    assert m["tpr_at_fpr_0.01"] == m["tpr_at_fpr_0.001"] == m["tpr_at_fpr_0.0001"] == 1.0
    assert m["accuracy"] == 1.0 and m["macro_f1"] == 1.0
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (500, 0, 1500, 0)
    assert m["threshold"] == t and m["threshold_given"] is True
    assert m["confusion_matrix"] == [[1500, 0], [0, 500]]


def test_evaluate_random_classifier():
    yt, st = _split(2, 20000, 0.0)
    m = evaluate(_labels(yt), _proba(st), CLASSES, threshold=0.5)
    assert m["auc"] == pytest.approx(0.5, abs=0.02)
    assert m["tpr_at_fpr_0.01"] == pytest.approx(0.01, abs=0.01)
    assert m["fpr_at_threshold"] == pytest.approx(0.5, abs=0.02)
    assert m["tpr_at_threshold"] == pytest.approx(0.5, abs=0.03)


def test_evaluate_inverted_classifier():
    yt, st = _split(3, 2000, 0.6)
    m = evaluate(_labels(yt), _proba(1 - st), CLASSES, threshold=0.5)
    assert m["auc"] == 0.0
    assert m["tpr_at_fpr_0.01"] == 0.0
    assert m["accuracy"] == 0.0 and m["tp"] == 0 and m["fp"] == 1500


def test_evaluate_applies_given_threshold_exactly_including_ties():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.7, 0.7, 0.9, 0.69, 0.2])
    m = evaluate(_labels(y), _proba(s), CLASSES, threshold=0.7)  # score == threshold is flagged
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 1, 2, 1)
    assert m["fpr_at_threshold"] == pytest.approx(1 / 3) and m["tpr_at_threshold"] == pytest.approx(2 / 3)
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(4 / 6)


def test_evaluate_default_threshold_is_marked():
    m = evaluate(["benign", "malicious"], _proba(np.array([0.2, 0.8])), CLASSES)
    assert m["threshold"] == 0.5 and m["threshold_given"] is False


def test_evaluate_macro_f1_and_per_class_match_sklearn():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 500).astype(bool)
    s = np.clip(rng.random(500) * 0.8 + 0.2 * y, 0, 1)
    m = evaluate(_labels(y), _proba(s), CLASSES, threshold=0.55)
    pred = s >= 0.55
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["per_class"]["malicious"]["recall"] == pytest.approx(pred[y].mean())
    assert m["per_class"]["malicious"]["support"] == int(y.sum())
    assert m["auc"] == pytest.approx(roc_auc_score(y, s))


def test_evaluate_multiclass_with_benign():
    classes = ["benign", "trojan", "ransomware"]
    y = ["benign", "benign", "trojan", "trojan", "ransomware", "ransomware"]
    proba = np.array(
        [
            [0.90, 0.05, 0.05],
            [0.30, 0.60, 0.10],  # benign mistaken for a trojan
            [0.10, 0.80, 0.10],
            [0.20, 0.30, 0.50],  # trojan called ransomware: still detected
            [0.05, 0.15, 0.80],
            [0.60, 0.10, 0.30],  # missed ransomware
        ]
    )
    m = evaluate(y, proba, classes, threshold=0.5)
    # argmax predictions: b, t, t, r, r, b
    assert m["labels"] == classes
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 1, 1], [1, 0, 1]]
    assert m["accuracy"] == pytest.approx(3 / 6)
    # binary view: score = 1 - P(benign) -> 0.1, 0.7, 0.9, 0.8, 0.95, 0.4
    np.testing.assert_allclose(binary_scores(proba, classes), [0.1, 0.7, 0.9, 0.8, 0.95, 0.4])
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (3, 1, 1, 1)
    assert (m["n_positive"], m["n_negative"]) == (4, 2)
    assert m["auc"] == pytest.approx(roc_auc_score([0, 0, 1, 1, 1, 1], [0.1, 0.7, 0.9, 0.8, 0.95, 0.4]))
    order = sorted(classes)  # scikit-learn wants sorted labels
    cols = [classes.index(c) for c in order]
    expected_ovr = roc_auc_score(y, proba[:, cols], multi_class="ovr", average="macro", labels=order)
    assert m["auc_ovr_macro"] == pytest.approx(expected_ovr)
    assert m["per_class"]["trojan"]["precision"] == pytest.approx(0.5)
    json.dumps(m, allow_nan=False)


def test_evaluate_without_binary_view():
    classes = ["trojan", "worm", "ransomware"]
    proba = np.eye(3)[[0, 1, 2, 0]]
    m = evaluate(["trojan", "worm", "ransomware", "worm"], proba, classes, positive=None)
    assert m["accuracy"] == 0.75
    assert m["auc"] is None and m["tp"] is None and m["threshold"] is None
    assert m["tpr_at_fpr_0.001"] is None
    with pytest.raises(ValueError, match="neither the negative class"):
        evaluate(["trojan"], proba[:1], classes)  # positive="malicious" is not a class


def test_evaluate_breakdown_by_source_hand_computed():
    y = np.array([1, 0, 1, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.2, 0.1, 0.7, 0.3])
    sources = ["a", "a", "a", "b", "b", None]
    m = evaluate(_labels(y), _proba(s), CLASSES, threshold=0.5, sources=sources, platforms=["linux"] * 6)
    rows = {r["value"]: r for r in m["by_source"]["rows"]}
    assert [r["value"] for r in m["by_source"]["rows"]] == ["a", "b", "(none)"]  # by size
    a = rows["a"]  # flagged: 0.9 (TP), 0.8 (FP); missed 0.2
    assert (a["n"], a["n_positive"], a["errors"], a["tp"], a["fp"]) == (3, 2, 2, 1, 1)
    assert a["detection_rate"] == 0.5 and a["false_positive_rate"] == 1.0
    assert a["accuracy"] == pytest.approx(1 / 3)
    b = rows["b"]
    assert (b["errors"], b["detection_rate"], b["false_positive_rate"]) == (0, 1.0, 0.0)
    assert rows["(none)"]["detection_rate"] is None  # no positives: undefined, not 0
    summary = m["by_source"]
    assert (summary["n_values"], summary["n_values_with_errors"], summary["truncated"]) == (3, 1, False)
    assert m["by_platform"]["rows"][0]["n"] == 6
    assert "by_group" not in m


def test_evaluate_by_group_keeps_groups_with_most_errors():
    n_groups = 80
    groups = [f"g{i:02d}" for i in range(n_groups) for _ in range(4)]
    y = np.tile([1, 1, 0, 0], n_groups).astype(bool)
    errors = np.arange(n_groups) % 5  # group i has (i mod 5) wrong examples, 0..4
    s = np.zeros(len(y))
    for g in range(n_groups):
        for j in range(4):
            k = 4 * g + j
            wrong = j < errors[g]
            s[k] = float(y[k] != wrong)
    m = evaluate(_labels(y), _proba(s), CLASSES, threshold=0.5, groups=groups)
    table = m["by_group"]
    assert table["n_values"] == n_groups and table["n_shown"] == MAX_GROUP_ROWS and table["truncated"]
    assert table["n_values_with_errors"] == 64
    assert table["share_values_with_errors"] == pytest.approx(64 / 80)
    shown = [r["errors"] for r in table["rows"]]
    assert shown == sorted(shown, reverse=True) and shown[0] == 4
    assert sum(r["errors"] for r in table["rows"]) == 16 * (4 + 3 + 2) + 2 * 1  # the 50 largest


def test_evaluate_output_is_strict_json_with_undefined_values():
    # only benign in this split: AUC, TPR and the detection rate are undefined -> None
    y = ["benign"] * 5
    m = evaluate(
        y,
        _proba(np.linspace(0.1, 0.9, 5)),
        CLASSES,
        threshold=0.5,
        groups=list("aabbc"),
        sources=["s"] * 5,
        platforms=["p"] * 5,
    )
    text = json.dumps(m, allow_nan=False)
    assert m["auc"] is None and m["tpr_at_fpr_0.01"] is None and m["tpr_at_threshold"] is None
    assert m["fpr_at_threshold"] == pytest.approx(0.6)  # 0.5, 0.7, 0.9 of 0.1 .. 0.9 are flagged
    assert json.loads(text) == m


def test_evaluate_resolution_flags():
    y, s = _split(5, 400, 0.5)  # 300 negatives: 1e-3 and 1e-4 are below 1/300
    m = evaluate(_labels(y), _proba(s), CLASSES, threshold=0.5)
    assert m["n_negative"] == 300
    assert m["min_measurable_fpr"] == pytest.approx(1 / 300)
    assert m["fpr_below_resolution"] == [1e-3, 1e-4]


def test_evaluate_unknown_label():
    with pytest.raises(ValueError, match=r"not in classes.*'phishing' \(2x\)"):
        evaluate(["benign", "phishing", "phishing"], _proba(np.array([0.1, 0.2, 0.3])), CLASSES)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"proba": np.zeros((3, 3))},
        {"proba": np.full((3, 2), np.nan)},
        {"groups": ["a", "b"]},
        {"classes": ["benign", "benign"]},
    ],
)
def test_evaluate_rejects_mismatches(kwargs):
    args = {
        "y_true": ["benign", "malicious", "benign"],
        "proba": _proba(np.array([0.1, 0.9, 0.2])),
        "classes": CLASSES,
    }
    args |= kwargs
    with pytest.raises(ValueError):
        evaluate(args.pop("y_true"), args.pop("proba"), args.pop("classes"), **args)


def test_to_jsonable():
    out = to_jsonable({1: np.float32(0.5), "a": [np.int64(3), np.nan, np.inf], "b": np.array([[1, 2]])})
    assert out == {"1": 0.5, "a": [3, None, None], "b": [[1, 2]]}
    json.dumps(out, allow_nan=False)


def test_metrics_import_does_not_load_matplotlib():
    code = (
        "import sys; import distilsec.evaluation.metrics; from distilsec.evaluation import evaluate; "
        "assert 'matplotlib' not in sys.modules; from distilsec.evaluation import plot_roc; "
        "assert 'matplotlib' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
