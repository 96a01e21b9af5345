"""Metrics for security classifiers: ranking, detection at a low false-positive rate, where errors fall.

Pure functions on arrays; no model code. A detector is judged at an *operating threshold*, because analysts
see alerts, not scores. That threshold is chosen on validation data (:func:`choose_threshold`), stored with
the model and applied unchanged to test data (:func:`evaluate`); tuning it on test data would report a
false-positive rate that the shipped model does not have.

Conventions
-----------
* A binary *score* is "how malicious": ``1 - P(negative)`` when the negative class (``"benign"``) is one
  of the classes, so multi-class tasks with several malicious subtypes get one score; else
  ``P(positive)``.
* An example is flagged when ``score >= threshold``. Tied scores are flagged together, so every rate here
  is exactly attainable by some threshold (no interpolation between tied examples).
* Undefined values (a rate with an empty denominator, an AUC with one class) are ``nan`` inside the
  functions and ``None`` in :func:`evaluate`'s output, which is plain JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

__all__ = [
    "DEFAULT_FPRS",
    "MAX_GROUP_ROWS",
    "TprAtFpr",
    "binary_labels",
    "binary_scores",
    "choose_threshold",
    "evaluate",
    "fpr_key",
    "to_jsonable",
    "tpr_at_fpr",
    "tpr_at_fpr_detail",
]

#: the false-positive rates reported by :func:`evaluate` (keys ``tpr_at_fpr_0.01`` ...).
DEFAULT_FPRS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
#: ``by_group`` keeps this many groups (those with the most errors) so the table stays readable.
MAX_GROUP_ROWS = 50
#: label used in breakdown tables for a missing (None) source / platform / group.
MISSING_VALUE = "(none)"


def fpr_key(fpr: float) -> str:
    """Metric key for the TPR at a false-positive rate: ``1e-3 -> "tpr_at_fpr_0.001"``."""
    return f"tpr_at_fpr_{fpr:g}"


# --------------------------------------------------------------------------------------------- ROC points


def _check_binary(y_true_binary: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert: 1-D 0/1 (or bool) labels and 1-D scores of the same length, no NaN."""
    y = np.asarray(y_true_binary)
    s = np.asarray(scores, dtype=float)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"expected 1-D labels and scores, got shapes {y.shape} and {s.shape}")
    if len(y) != len(s):
        raise ValueError(f"labels and scores differ in length: {len(y)} vs {len(s)}")
    if np.isnan(s).any():
        raise ValueError(f"{int(np.isnan(s).sum())} score(s) are NaN; a broken model cannot be evaluated")
    if y.dtype != bool:
        bad = set(np.unique(y).tolist()) - {0, 1}
        if bad:
            raise ValueError(f"binary labels must be 0/1 or bool, found {sorted(bad, key=str)[:5]}")
        y = y == 1
    return y, s


def _roc_points(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (distinct scores, descending) with the cumulative TP and FP counts at each.

    Counts are taken at the *end* of each run of tied scores, because a threshold flags all tied
    examples or none of them; that is what makes the rates here exact under ties.
    """
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    # compare neighbours directly (np.diff of two infinities is NaN and would split a tie)
    last = np.r_[np.flatnonzero(s_sorted[1:] != s_sorted[:-1]), len(s_sorted) - 1]
    return s_sorted[last], tp[last], fp[last]


@dataclass(frozen=True)
class TprAtFpr:
    """The detection rate reachable at a false-positive budget, with what is needed to trust it.

    Attributes
    ----------
    tpr : float
        Largest TPR over thresholds whose FPR is <= ``target_fpr`` (nan without positives or negatives).
    threshold : float
        The threshold that reaches it (``inf``: flag nothing). Computed on the data given, so only
        meaningful as a validation-time choice.
    fpr : float
        The FPR actually observed at that threshold (<= ``target_fpr``).
    target_fpr : float
        The budget asked for.
    n_negatives, n_positives : int
        Class counts. With N negatives FPR moves in steps of 1/N, so a target below 1/N can only be met
        with *zero* false positives: the value is then the TPR at FPR 0, not a measurement at the target.
    """

    tpr: float
    threshold: float
    fpr: float
    target_fpr: float
    n_negatives: int
    n_positives: int

    @property
    def min_measurable_fpr(self) -> float:
        """Smallest non-zero FPR these negatives can show: ``1 / n_negatives`` (nan without negatives)."""
        return 1.0 / self.n_negatives if self.n_negatives else math.nan

    @property
    def resolvable(self) -> bool:
        """Whether the target FPR is at least one false positive's worth of the negatives."""
        return self.n_negatives > 0 and self.target_fpr >= self.min_measurable_fpr


def _check_fpr(fpr: float, name: str) -> float:
    fpr = float(fpr)
    if not 0.0 <= fpr <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {fpr}")
    return fpr


def tpr_at_fpr_detail(y_true_binary: Any, scores: Any, fpr: float) -> TprAtFpr:
    """TPR at a false-positive budget, with the threshold, the achieved FPR and the class counts.

    Parameters
    ----------
    y_true_binary : array-like of 0/1 or bool, shape (n,)
        1 = positive (malicious).
    scores : array-like of float, shape (n,)
        Higher = more likely positive.
    fpr : float
        The false-positive budget, in [0, 1].

    Returns
    -------
    TprAtFpr
        The operating point with the most detections among those with FPR <= ``fpr`` (the lowest such
        threshold). Ties are exact: tied examples are flagged together, never split.
    """
    fpr = _check_fpr(fpr, "fpr")
    y, s = _check_binary(y_true_binary, scores)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return TprAtFpr(math.nan, math.nan, math.nan, fpr, n_neg, n_pos)
    thr, tp, fp = _roc_points(y, s)
    # prepend the "flag nothing" point, always within budget
    thr, tp, fp = np.r_[np.inf, thr], np.r_[0, tp], np.r_[0, fp]
    k = int(np.flatnonzero(fp / n_neg <= fpr)[-1])  # FP counts only grow as the threshold falls
    return TprAtFpr(float(tp[k] / n_pos), float(thr[k]), float(fp[k] / n_neg), fpr, n_neg, n_pos)


def tpr_at_fpr(y_true_binary: Any, scores: Any, fpr: float) -> float:
    """Detection rate (TPR) at the lowest threshold whose FPR is <= ``fpr``; nan with one class only.

    Security detectors run at very low false-positive rates, where ROC AUC says little: this is the
    number that says how much an analyst would see. See :func:`tpr_at_fpr_detail` for the threshold,
    the achieved FPR and ``n_negatives`` (with N negatives an FPR below 1/N cannot be measured).
    """
    return tpr_at_fpr_detail(y_true_binary, scores, fpr).tpr


def choose_threshold(y_val_binary: Any, scores_val: Any, target_fpr: float) -> float:
    """Operating threshold for a target FPR, chosen on VALIDATION data.

    The threshold is part of the model: it is stored in the bundle and applied unchanged to test data
    and in production. Choosing it on test data would make the reported FPR hold by construction
    instead of being a measurement.

    Parameters
    ----------
    y_val_binary : array-like of 0/1 or bool
        Validation labels, 1 = positive.
    scores_val : array-like of float
        Validation scores.
    target_fpr : float
        The false-positive budget, in [0, 1].

    Returns
    -------
    float
        The smallest threshold (one of the validation scores) whose validation FPR is <= ``target_fpr``
        (flag when ``score >= threshold``); it detects the most within the budget. When even the top
        score breaks the budget (a negative scores highest), the next float above the maximum score:
        nothing seen in validation is flagged.

    Raises
    ------
    ValueError
        Empty input or no negatives: without negatives there is no FPR to control.
    """
    target_fpr = _check_fpr(target_fpr, "target_fpr")
    y, s = _check_binary(y_val_binary, scores_val)
    if len(s) == 0:
        raise ValueError("cannot choose a threshold on empty validation data")
    n_neg = int((~y).sum())
    if n_neg == 0:
        raise ValueError("validation data has no negatives: the false-positive rate cannot be controlled")
    thr, _, fp = _roc_points(y, s)
    ok = np.flatnonzero(fp / n_neg <= target_fpr)
    if len(ok) == 0:
        return float(np.nextafter(thr[0], np.inf))
    return float(thr[ok[-1]])


# --------------------------------------------------------------------------------------- binary views


def _negative_and_positive_index(
    classes: Sequence[str], negative: str, positive: str | None
) -> tuple[int | None, int | None]:
    """Index of the negative class (if present) and of the positive class (if present)."""
    classes = list(classes)
    neg = classes.index(negative) if negative in classes else None
    pos = classes.index(positive) if positive is not None and positive in classes else None
    if neg is None and pos is None and positive is not None:
        raise ValueError(
            f"neither the negative class {negative!r} nor the positive class {positive!r} is one of the "
            f"classes {classes}; pass positive=None to skip the binary (detection) metrics"
        )
    return neg, pos


def binary_scores(
    proba: np.ndarray, classes: Sequence[str], *, negative: str = "benign", positive: str | None = "malicious"
) -> np.ndarray | None:
    """Binary "how malicious" score: ``1 - P(negative)`` if the negative class exists, else ``P(positive)``.

    Using the negative class makes one score for multi-class tasks whose positives are several
    malicious subtypes. Returns None when neither class exists and ``positive`` is None.
    """
    neg, pos = _negative_and_positive_index(classes, negative, positive)
    proba = np.asarray(proba, dtype=float)
    if neg is not None:
        return 1.0 - proba[:, neg]
    if pos is not None:
        return proba[:, pos]
    return None


def binary_labels(
    y_true: Sequence[str],
    classes: Sequence[str],
    *,
    negative: str = "benign",
    positive: str | None = "malicious",
) -> np.ndarray | None:
    """0/1 labels matching :func:`binary_scores`: "not negative" if that class exists, else "is positive"."""
    neg, pos = _negative_and_positive_index(classes, negative, positive)
    y = list(y_true)
    if neg is not None:
        return np.array([v != negative for v in y], dtype=bool)
    if pos is not None:
        return np.array([v == positive for v in y], dtype=bool)
    return None


# ------------------------------------------------------------------------------------------ JSON


def to_jsonable(obj: Any) -> Any:
    """Plain-JSON copy: numpy scalars/arrays -> Python, non-finite floats -> None, keys -> str.

    Metrics end up in ``metrics.json`` and bundle manifests, which must load anywhere (NaN is not JSON).
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ------------------------------------------------------------------------------------------ evaluate


def _rate(num: float, den: float) -> float:
    return float(num / den) if den else math.nan


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC (ties count half); nan when only one class is present."""
    if y.all() or not y.any():
        return math.nan
    return float(roc_auc_score(y, s))


def _per_class(cm: np.ndarray, classes: list[str]) -> tuple[dict[str, dict[str, float]], float]:
    """Precision / recall / F1 / support per class, and macro-F1.

    Macro-F1 averages over the classes present in the truth or the predictions (scikit-learn's
    default), so a class absent from a test split does not pull the average to zero.
    """
    out: dict[str, dict[str, float]] = {}
    f1s = []
    for k, name in enumerate(classes):
        tp = cm[k, k]
        predicted, support = cm[:, k].sum(), cm[k, :].sum()
        f1 = _rate(2 * tp, predicted + support)
        out[name] = {
            "precision": _rate(tp, predicted),
            "recall": _rate(tp, support),
            "f1": f1,
            "support": int(support),
        }
        if predicted + support:
            f1s.append(f1)
    return out, float(np.mean(f1s)) if f1s else math.nan


def _breakdown(
    values: Sequence[Any],
    correct: np.ndarray,
    yb: np.ndarray | None,
    flagged: np.ndarray | None,
    *,
    limit: int | None = None,
) -> dict[str, Any]:
    """Per-value counts and rates; sorted by errors (when ``limit`` is set) or by size.

    Returns ``{"n_values", "n_values_with_errors", "share_values_with_errors", "n_shown", "truncated",
    "rows"}``; each row has value, n, n_positive, n_negative, errors, accuracy, detection_rate (recall
    of positives at the threshold), false_positive_rate, tp, fp.
    """
    keys = np.array([MISSING_VALUE if v is None else str(v) for v in values], dtype=object)
    uniq, inv = np.unique(keys, return_inverse=True)
    n = np.bincount(inv, minlength=len(uniq))
    errors = np.bincount(inv, weights=~correct, minlength=len(uniq)).astype(int)
    if yb is not None and flagged is not None:
        n_pos = np.bincount(inv, weights=yb, minlength=len(uniq)).astype(int)
        tp = np.bincount(inv, weights=yb & flagged, minlength=len(uniq)).astype(int)
        fp = np.bincount(inv, weights=~yb & flagged, minlength=len(uniq)).astype(int)
    rows = []
    for i, value in enumerate(uniq):
        row: dict[str, Any] = {"value": value, "n": int(n[i])}
        if yb is not None:
            row |= {"n_positive": int(n_pos[i]), "n_negative": int(n[i] - n_pos[i])}
        row |= {"errors": int(errors[i]), "accuracy": float(1 - errors[i] / n[i])}
        if yb is not None:
            row |= {
                "detection_rate": _rate(tp[i], n_pos[i]),
                "false_positive_rate": _rate(fp[i], n[i] - n_pos[i]),
                "tp": int(tp[i]),
                "fp": int(fp[i]),
            }
        rows.append(row)
    if limit is None:
        rows.sort(key=lambda r: (-r["n"], r["value"]))
    else:
        rows.sort(key=lambda r: (-r["errors"], -r["n"], r["value"]))
    n_err = int((errors > 0).sum())
    shown = rows if limit is None else rows[:limit]
    return {
        "n_values": len(uniq),
        "n_values_with_errors": n_err,
        "share_values_with_errors": n_err / len(uniq),
        "n_shown": len(shown),
        "truncated": len(shown) < len(rows),
        "rows": shown,
    }


def _check_inputs(
    y_true: Sequence[str], proba: Any, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labels as class indices and proba as float array; clear errors for every mismatch."""
    classes = list(classes)
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes contain duplicates: {classes}")
    y = list(y_true)
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or p.shape != (len(y), len(classes)):
        raise ValueError(f"proba must have shape (n_examples, n_classes) = ({len(y)}, {len(classes)}), got {p.shape}")
    if len(y) == 0:
        raise ValueError("cannot evaluate on zero examples")
    if np.isnan(p).any():
        raise ValueError(f"proba holds {int(np.isnan(p).sum())} NaN value(s)")
    index = {c: i for i, c in enumerate(classes)}
    unknown: dict[Any, int] = {}
    for v in y:
        if v not in index:
            unknown[v] = unknown.get(v, 0) + 1
    if unknown:
        shown = ", ".join(f"{k!r} ({c}x)" for k, c in list(unknown.items())[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ValueError(f"y_true has labels that are not in classes {classes}: {shown}{more}")
    return np.array([index[v] for v in y], dtype=int), p, classes


def evaluate(
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    *,
    positive: str | None = "malicious",
    threshold: float | None = None,
    negative: str = "benign",
    groups: Sequence[Any] | None = None,
    sources: Sequence[Any] | None = None,
    platforms: Sequence[Any] | None = None,
    fprs: Sequence[float] = DEFAULT_FPRS,
) -> dict[str, Any]:
    """All test metrics of one model, as plain JSON.

    Parameters
    ----------
    y_true : sequence of str
        True labels; each must be one of ``classes``.
    proba : ndarray, shape (n, n_classes)
        Predicted probabilities, columns in the order of ``classes``.
    classes : sequence of str
        Class names.
    positive, negative : str
        Define the binary (detection) view, see :func:`binary_scores`. With ``positive=None`` and no
        negative class, the binary metrics are None.
    threshold : float, optional
        Operating threshold from :func:`choose_threshold` on validation data. None uses 0.5 and records
        ``threshold_given = False``: a placeholder, not an operating point.
    groups, sources, platforms : sequence, optional
        Per-example metadata; each given one adds a breakdown table (``by_group`` keeps the
        :data:`MAX_GROUP_ROWS` groups with the most errors, plus a summary).
    fprs : sequence of float
        False-positive rates for the ``tpr_at_fpr_<fpr>`` keys.

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1``, ``auc`` (of the binary score), ``auc_ovr_macro`` (more than two
        classes), ``tpr_at_fpr_<fpr>``, ``n_negative`` / ``min_measurable_fpr`` /
        ``fpr_below_resolution`` (targets below 1/n_negative: the TPR there is at zero observed false
        positives), ``threshold``, ``tp`` / ``fp`` / ``tn`` / ``fn`` / ``fpr_at_threshold`` /
        ``tpr_at_threshold`` at the threshold, ``confusion_matrix`` (rows = truth, columns =
        prediction, order ``labels``), ``n``, ``n_positive``, ``per_class`` and the breakdowns.
        Accuracy, F1 and the confusion matrix use the threshold for two-class tasks with a binary
        view and the argmax otherwise. Undefined values are None.

    Raises
    ------
    ValueError
        Unknown labels, shape mismatches, NaN probabilities, metadata of the wrong length.
    """
    idx, p, classes = _check_inputs(y_true, proba, classes)
    n, n_classes = p.shape
    scores = binary_scores(p, classes, negative=negative, positive=positive)
    yb = binary_labels([classes[i] for i in idx], classes, negative=negative, positive=positive)
    thr = 0.5 if threshold is None else float(threshold)
    flagged = None if scores is None else scores >= thr
    pred = _decisions(p, classes, flagged, negative=negative, positive=positive)
    correct = pred == idx
    cm = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(cm, (idx, pred), 1)
    per_class, macro_f1 = _per_class(cm, classes)

    out: dict[str, Any] = {"n": n, "accuracy": float(correct.mean()), "macro_f1": macro_f1, "auc": math.nan}
    if n_classes > 2:
        out["auc_ovr_macro"] = _one_vs_rest_aucs(idx, p, classes, per_class)
    out |= {fpr_key(f): math.nan for f in fprs}
    out |= {"n_positive": None, "n_negative": None, "min_measurable_fpr": math.nan, "fpr_below_resolution": []}
    out |= {"threshold": thr if scores is not None else None, "threshold_given": threshold is not None}
    out |= dict.fromkeys(("tp", "fp", "tn", "fn"))
    out |= {"fpr_at_threshold": math.nan, "tpr_at_threshold": math.nan}
    if scores is not None and yb is not None and flagged is not None:
        out |= _detection_metrics(yb, scores, flagged, fprs)
    out |= {"labels": classes, "confusion_matrix": cm, "per_class": per_class}
    out |= _breakdowns(n, correct, yb, flagged, groups=groups, sources=sources, platforms=platforms)
    return to_jsonable(out)


def _decisions(
    p: np.ndarray, classes: list[str], flagged: np.ndarray | None, *, negative: str, positive: str | None
) -> np.ndarray:
    """Predicted class indices: the threshold's decision for two classes with a binary view, else the argmax."""
    if flagged is None or p.shape[1] != 2:
        return p.argmax(axis=1)
    neg_i, pos_i = _negative_and_positive_index(classes, negative, positive)
    pos_i = 1 - neg_i if neg_i is not None else pos_i
    return np.where(flagged, pos_i, 1 - pos_i)


def _one_vs_rest_aucs(idx: np.ndarray, p: np.ndarray, classes: list[str], per_class: dict[str, Any]) -> float:
    """Each class's one-vs-rest AUC into ``per_class`` (NaN for a class absent from the labels); their mean."""
    aucs = []
    for k, name in enumerate(classes):
        per_class[name]["auc_ovr"] = _auc(idx == k, p[:, k])
        if not math.isnan(per_class[name]["auc_ovr"]):
            aucs.append(per_class[name]["auc_ovr"])
    return float(np.mean(aucs)) if aucs else math.nan


def _detection_metrics(
    yb: np.ndarray, scores: np.ndarray, flagged: np.ndarray, fprs: Sequence[float]
) -> dict[str, Any]:
    """AUC of the binary score, TPR at each FPR (with the resolution limit), counts and rates at the threshold."""
    n_pos = int(yb.sum())
    n_neg = len(yb) - n_pos
    out: dict[str, Any] = {"auc": _auc(yb, scores), "fpr_below_resolution": []}
    for f in fprs:
        detail = tpr_at_fpr_detail(yb, scores, f)
        out[fpr_key(f)] = detail.tpr
        if n_neg and not detail.resolvable:
            out["fpr_below_resolution"].append(float(f))
    tp, fp = int((yb & flagged).sum()), int((~yb & flagged).sum())
    return out | {
        "n_positive": n_pos,
        "n_negative": n_neg,
        "min_measurable_fpr": _rate(1, n_neg),
        "tp": tp,
        "fp": fp,
        "tn": n_neg - fp,
        "fn": n_pos - tp,
        "fpr_at_threshold": _rate(fp, n_neg),
        "tpr_at_threshold": _rate(tp, n_pos),
    }


def _breakdowns(
    n: int,
    correct: np.ndarray,
    yb: np.ndarray | None,
    flagged: np.ndarray | None,
    **metadata: Sequence[Any] | None,
) -> dict[str, Any]:
    """``by_group`` (the groups with the most errors), ``by_source``, ``by_platform`` for the metadata given."""
    out = {}
    for what, values in metadata.items():  # groups, sources, platforms
        if values is None:
            continue
        values = list(values)
        if len(values) != n:
            raise ValueError(f"{what} has {len(values)} entries for {n} examples")
        limit = MAX_GROUP_ROWS if what == "groups" else None
        out[f"by_{what[:-1]}"] = _breakdown(values, correct, yb, flagged, limit=limit)
    return out
