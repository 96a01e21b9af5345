"""The review queue: which items are worth an analyst's minute, ranked by the expected value of a review.

An analyst's decision is worth most where a label is likely wrong *and* the label matters. Each signal
below is a number in [0, 1] that says how strongly one kind of evidence points at an item; the item's
value is their weighted sum times the weight of its split, and the reasons shown to the analyst are the
signals that fired:

* ``doubt`` — an out-of-fold model (never trained on the item) gives its original label a low probability:
  the confident-learning signal for label noise (Northcutt et al., 2021);
* ``contradicts`` — the teacher confidently predicts another label than the original one;
* ``disagree`` — the teacher and the student disagree (total-variation distance of their probabilities);
* ``teacher_unsure`` — the teacher's top two classes are close: its soft label teaches little;
* ``near_threshold`` — the shipped student's score is close to its operating threshold (in log-odds):
  the alerts that flip with a small label change, and the ones an analyst sees first in production;
* ``conflict`` — curation found the same text with different labels, or a near-identical training text
  carries another label;
* ``error`` — a validation/test item the student gets wrong at its operating point (a false positive or
  false negative of the last evaluation).

Split weights: a training correction changes the next model, a validation one its threshold, a test one
only its measurement (test corrections are reported apart, never merged), so train > val > test.
This is a heuristic ranking, measured against a random queue in ``benchmarks/review_recovery.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DEFAULT_WEIGHTS", "SPLIT_WEIGHTS", "QueueInputs", "Ranking", "predicted_labels", "rank_queue"]

DEFAULT_WEIGHTS: dict[str, float] = {
    "doubt": 1.5,
    "contradicts": 1.0,
    "disagree": 1.0,
    "teacher_unsure": 0.5,
    "near_threshold": 0.75,
    "conflict": 1.0,
    "error": 1.0,
}
SPLIT_WEIGHTS: dict[str, float] = {"train": 1.0, "dropped": 0.8, "val": 0.8, "test": 0.6}
#: a signal at or above this strength is named among the item's reasons
REASON_AT = 0.5


@dataclass
class QueueInputs:
    """What the ranking reads, one entry per item (probability columns in ``classes`` order).

    ``negative`` is the all-clear class of the detection view (None: no view, e.g. website categories);
    thresholds apply to ``1 - P(negative)``. Any model may be missing (None): its signals are 0.
    """

    split: Sequence[str]
    label: Sequence[str | None]
    classes: Sequence[str]
    negative: str | None = None
    teacher_proba: np.ndarray | None = None
    student_proba: np.ndarray | None = None
    teacher_threshold: float | None = None
    student_threshold: float | None = None
    doubt: np.ndarray | None = None
    conflict: Sequence[str | None] | None = None


@dataclass
class Ranking:
    """Each item's value and reasons (in input order), the signals, and the queue: indices, best first."""

    value: np.ndarray
    reasons: list[list[str]]
    signals: dict[str, np.ndarray] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)


def _alert_score(proba: np.ndarray, classes: Sequence[str], negative: str | None) -> np.ndarray | None:
    if negative is None or negative not in classes:
        return None
    return 1.0 - proba[:, list(classes).index(negative)]


def predicted_labels(
    proba: np.ndarray, classes: Sequence[str], negative: str | None, threshold: float | None
) -> list[str]:
    """Each row's label at the operating point: the top non-negative class when ``1 - P(negative)`` reaches
    ``threshold``, else ``negative``; the arg-max without a detection view or threshold."""
    classes = list(classes)
    score = _alert_score(proba, classes, negative)
    if score is None or threshold is None:
        return [classes[j] for j in np.argmax(proba, axis=1)]
    neg = classes.index(str(negative))
    masked = proba.copy()
    masked[:, neg] = -1.0
    top = np.argmax(masked, axis=1)
    return [classes[int(t)] if s >= threshold else classes[neg] for s, t in zip(score, top, strict=True)]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _label_proba(proba: np.ndarray, labels: Sequence[str | None], classes: Sequence[str]) -> np.ndarray:
    """P(original label) per row (NaN for an unlabelled row or a label that is not a class)."""
    index = {c: j for j, c in enumerate(classes)}
    out = np.full(len(labels), np.nan)
    for i, lab in enumerate(labels):
        if lab in index:
            out[i] = proba[i, index[lab]]
    return out


def _signals(x: QueueInputs) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Every signal (strength in [0, 1], 0 where it does not apply) and its reason text per item."""
    n = len(x.split)
    classes = list(x.classes)
    sig = {name: np.zeros(n) for name in DEFAULT_WEIGHTS}
    why: dict[str, list[str]] = {name: [""] * n for name in DEFAULT_WEIGHTS}
    labels = list(x.label)
    t, s = x.teacher_proba, x.student_proba
    if x.doubt is not None:
        d = np.nan_to_num(np.asarray(x.doubt, dtype=float), nan=0.0)
        sig["doubt"] = np.clip(d, 0, 1)
        why["doubt"] = [f"original label doubtful: a model that never saw it gives it p={1 - v:.2f}" for v in d]
    if t is not None:
        t_pred = predicted_labels(t, classes, x.negative, x.teacher_threshold)
        p_label = _label_proba(t, labels, classes)
        contra = np.where(np.isnan(p_label), 0.0, 1.0 - np.nan_to_num(p_label))
        differs = [p != lab and lab is not None for p, lab in zip(t_pred, labels, strict=True)]
        sig["contradicts"] = np.where(differs, contra, 0.0)
        pairs = zip(t_pred, contra, strict=True)
        why["contradicts"] = [f"teacher says {p!r} (p={1 - c:.2f} for the label)" for p, c in pairs]
        top2 = np.sort(t, axis=1)[:, -2:] if t.shape[1] > 1 else np.hstack([np.zeros((n, 1)), t])
        sig["teacher_unsure"] = 1.0 - (top2[:, 1] - top2[:, 0])
        why["teacher_unsure"] = [f"teacher unsure (top classes {a:.2f} vs {b:.2f})" for b, a in top2]
    if t is not None and s is not None:
        tv = 0.5 * np.abs(t - s).sum(axis=1)
        s_pred = predicted_labels(s, classes, x.negative, x.student_threshold)
        t_pred = predicted_labels(t, classes, x.negative, x.teacher_threshold)
        differ = np.array([a != b for a, b in zip(t_pred, s_pred, strict=True)])
        sig["disagree"] = np.where(differ, np.maximum(tv, REASON_AT), tv)
        why["disagree"] = [
            f"teacher says {a!r}, student says {b!r}" if a != b else "teacher and student differ"
            for a, b in zip(t_pred, s_pred, strict=True)
        ]
    if s is not None:
        _student_signals(x, s, classes, labels, sig, why)
    if x.conflict is not None:
        sig["conflict"] = np.array([1.0 if c else 0.0 for c in x.conflict])
        why["conflict"] = [c or "" for c in x.conflict]
    return sig, why


def _student_signals(
    x: QueueInputs,
    s: np.ndarray,
    classes: list[str],
    labels: list[str | None],
    sig: dict[str, np.ndarray],
    why: dict[str, list[str]],
) -> None:
    score = _alert_score(s, classes, x.negative)
    if score is not None and x.student_threshold is not None and x.student_threshold <= 1.0:
        gap = np.abs(_logit(score) - _logit(np.full_like(score, x.student_threshold)))
        sig["near_threshold"] = np.exp(-gap / 2.0)
        why["near_threshold"] = [f"score {v:.3f} near the threshold {x.student_threshold:.3f}" for v in score]
    s_pred = predicted_labels(s, classes, x.negative, x.student_threshold)
    for i, (split, lab, pred) in enumerate(zip(x.split, labels, s_pred, strict=True)):
        if split in ("val", "test") and lab is not None and pred != lab:
            sig["error"][i] = 1.0
            kind = "false positive" if lab == x.negative else "false negative" if pred == x.negative else "error"
            why["error"][i] = f"{kind} of the last evaluation ({split}: student says {pred!r}, label {lab!r})"


def rank_queue(
    x: QueueInputs,
    *,
    weights: Mapping[str, float] | None = None,
    split_weights: Mapping[str, float] | None = None,
    min_value: float = 0.25,
    size: int | None = None,
) -> Ranking:
    """Each item's value (weighted signals times its split's weight) and the queue: items worth at least
    ``min_value``, best first (ties by input order), at most ``size`` of them."""
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    sw = {**SPLIT_WEIGHTS, **(split_weights or {})}
    sig, why = _signals(x)
    total = sum(w[name] * sig[name] for name in sig)
    value = total * np.array([sw.get(split, 0.5) for split in x.split])
    reasons = [
        [why[name][i] for name in sorted(sig, key=lambda k: -w[k] * sig[k][i]) if sig[name][i] >= REASON_AT]
        for i in range(len(value))
    ]
    order = [int(i) for i in np.argsort(-value, kind="stable") if value[i] >= min_value]
    return Ranking(value=value, reasons=reasons, signals=sig, order=order[:size] if size else order)
