"""Is the teacher worth learning from? Every teacher candidate against the best student, measured.

Distillation rests on one premise: the teacher knows something the student cannot learn alone. When the
teacher detects no better than a student trained on the hard labels, the student's soft targets carry
no extra knowledge (and on data from elsewhere a weak teacher can pull a good student down), so a run
says so instead of reporting "distilled" as if it helped. Two checks per run, both in the report:

* **teacher vs students**: the teacher, each of its components and every student on validation (detection
  at the operating FPR, measured on validation itself) and on the held-out test groups (at the threshold
  chosen on validation); a warning when the teacher is not better than the best student on either.
* **threshold transfer**: per source, the false-positive rate on test at the threshold chosen on
  validation; a warning where it is more than 3x the target on a source with enough negatives to tell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["teacher_check", "threshold_transfer", "teacher_check_markdown", "TRANSFER_FACTOR"]

#: a source's test FPR above this many times the target is a threshold that does not transfer.
TRANSFER_FACTOR = 3.0
#: fewer validation positives than this and the teacher-vs-student verdict is not given (rows only).
MIN_POSITIVES = 20


def _val_detection(
    labels: Sequence[str], proba: np.ndarray, classes: Sequence[str], view: Any
) -> dict[str, float | None]:
    """AUC and TPR at the target FPR on validation (threshold from validation's own negatives)."""
    from sklearn.metrics import roc_auc_score

    classes = list(classes)
    if view.positive in classes:
        y = np.array([str(v) == view.positive for v in labels])
        s = proba[:, classes.index(view.positive)]
    else:
        y = np.array([str(v) != view.negative for v in labels])
        s = 1.0 - proba[:, classes.index(view.negative)]
    if y.all() or not y.any():
        return {"val_auc": None, "val_tpr": None}
    neg = np.sort(s[~y])[::-1]
    k = min(int(np.floor(view.target_fpr * len(neg))), len(neg) - 1)
    return {"val_auc": float(roc_auc_score(y, s)), "val_tpr": float((s[y] > neg[k]).mean())}


def teacher_check(
    dev_probas: Mapping[str, np.ndarray],
    roles: Mapping[str, str],
    val_labels: Sequence[str],
    test_metrics: Mapping[str, Mapping[str, Any]],
    *,
    classes: Sequence[str],
    view: Any,
) -> dict[str, Any]:
    """The teacher (``"teacher"``), its components (``teacher-*``) and the students, side by side.

    ``dev_probas``: each model's validation probabilities; ``roles``: model name -> role (a student's role
    contains ``"student"``); ``test_metrics``: each model's test metrics (``evaluate``'s). Returns
    ``{"rows": [...], "best_student": name, "margin_val": .., "margin_test": .., "warning": str | None}``;
    margins are teacher minus best student in TPR at the target FPR (positive: the teacher is better).
    """
    from distilsec.evaluation.metrics import fpr_key

    if view.positive not in classes and view.negative not in classes:
        return {"rows": [], "warning": None}  # no detection view (e.g. website categories)
    key = fpr_key(view.target_fpr)
    rows = []
    for name, proba in dev_probas.items():
        if name not in roles or proba is None:
            continue
        row = {"model": name, "role": roles[name]} | _val_detection(val_labels, proba, classes, view)
        m = test_metrics.get(name, {})
        row |= {"test_auc": m.get("auc"), "test_tpr": m.get(key)}
        rows.append(row)
    by_name = {r["model"]: r for r in rows}
    students = [r for r in rows if "student" in r["role"] and r["val_tpr"] is not None]
    teacher = by_name.get("teacher")
    if not students or teacher is None or teacher["val_tpr"] is None:
        return {"rows": rows, "warning": None}
    best = max(students, key=lambda r: (r["val_tpr"], r["val_auc"] or 0.0))
    margin_val = teacher["val_tpr"] - best["val_tpr"]
    margin_test = (
        None if teacher["test_tpr"] is None or best["test_tpr"] is None else teacher["test_tpr"] - best["test_tpr"]
    )
    warning = None
    n_pos = sum(str(v) == view.positive if view.positive in classes else str(v) != view.negative for v in val_labels)
    if n_pos < MIN_POSITIVES:  # a handful of positives cannot tell two detectors apart: rows only
        return {
            "rows": rows,
            "best_student": best["model"],
            "margin_val": round(margin_val, 4),
            "margin_test": margin_test,
            "warning": None,
            "note": f"{n_pos} validation positives: too few to judge",
        }
    if margin_val <= 0 or (margin_test is not None and margin_test <= 0):
        where = "validation" if margin_val <= 0 else "the held-out test groups"
        warning = (
            f"the teacher is not better than the best student on {where} (TPR@FPR {view.target_fpr:g}: teacher "
            f"{teacher['val_tpr']:.3f} val / {_fmt(teacher['test_tpr'])} test, {best['model']} {best['val_tpr']:.3f} "
            f"val / {_fmt(best['test_tpr'])} test): its soft labels may add nothing; see 'Teacher check'"
        )
    return {
        "rows": rows,
        "best_student": best["model"],
        "margin_val": round(margin_val, 4),
        "margin_test": None if margin_test is None else round(margin_test, 4),
        "warning": warning,
    }


def threshold_transfer(test_metrics: Mapping[str, Mapping[str, Any]], *, target_fpr: float) -> dict[str, Any]:
    """Per model and source: the test FPR at the validation threshold against ``target_fpr``.

    A source counts as failing only when its FPR exceeds ``TRANSFER_FACTOR`` x the target *and* it has
    enough negatives for one false positive to be below that (otherwise its FPR is not measurable there).
    """
    out: dict[str, Any] = {"target_fpr": target_fpr, "factor": TRANSFER_FACTOR, "models": {}, "warnings": []}
    limit = TRANSFER_FACTOR * target_fpr
    for name, m in test_metrics.items():
        rows = (m.get("by_source") or {}).get("rows") or []
        per = []
        for r in rows:
            n_neg = r.get("n_negative") or 0
            fpr = r.get("false_positive_rate")
            if not n_neg or fpr is None:
                continue
            measurable = 1.0 / n_neg < limit
            per.append(
                {
                    "source": r["value"],
                    "n_negative": n_neg,
                    "fp": r.get("fp"),
                    "fpr": fpr,
                    "holds": (fpr <= limit) if measurable else None,
                }
            )
        if per:
            out["models"][name] = per
            bad = [p["source"] for p in per if p["holds"] is False]
            if bad and not name.startswith("teacher-"):
                out["warnings"].append(
                    f"{name}: the threshold chosen on validation for FPR {target_fpr:g} gives more than "
                    f"{TRANSFER_FACTOR:g}x that on test for source(s) {', '.join(bad)}"
                )
    return out


def teacher_check_markdown(check: Mapping[str, Any], transfer: Mapping[str, Any] | None = None) -> str:
    """The report's 'Teacher check' section."""
    from distilsec.evaluation.report import markdown_table

    parts = [
        "Each teacher candidate against the students. *val*: on validation, threshold from validation's own "
        "negatives; *test*: on the held-out groups at the threshold chosen on validation."
    ]
    rows = [
        {
            "model": r["model"],
            "role": r["role"],
            "val AUC": _fmt(r["val_auc"]),
            "val TPR@target": _fmt(r["val_tpr"]),
            "test AUC": _fmt(r["test_auc"]),
            "test TPR@target": _fmt(r["test_tpr"]),
        }
        for r in check.get("rows", [])
    ]
    if rows:
        parts.append(markdown_table(rows))
    if check.get("best_student"):
        parts.append(
            f"Teacher minus best student ({check['best_student']}) in TPR at the target FPR: "
            f"validation {check['margin_val']:+.4f}, test {_fmt(check.get('margin_test'), signed=True)}."
        )
    if check.get("warning"):
        parts.append(f"**Warning: {check['warning']}.**")
    if transfer and transfer.get("models"):
        parts.append(
            f"Threshold transfer: per source, test FPR at the validation threshold (target {transfer['target_fpr']:g}; "
            f"fails above {transfer['factor']:g}x where measurable)."
        )
        t_rows = [
            {
                "model": name,
                "source": p["source"],
                "negatives": p["n_negative"],
                "FP": p["fp"],
                "FPR": _fmt(p["fpr"]),
                "holds": {True: "yes", False: "**no**", None: "not measurable"}[p["holds"]],
            }
            for name, per in transfer["models"].items()
            for p in per
        ]
        parts.append(markdown_table(t_rows))
    return "\n\n".join(parts)


def _fmt(v: float | None, *, signed: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{v:+.4f}" if signed else f"{v:.4f}"
