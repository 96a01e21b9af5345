"""CTI-Bench metrics of the CVE task: CWE root-cause mapping (RCM) and CVSS v3.1 severity prediction (VSP).

These are the CVE task's metric families, next to the detection metrics of :mod:`distilsec.evaluation.metrics`:
a CWE model is scored on its ranked CWE IDs (top-1 exact match is the official figure), a CVSS model on the
base scores its vectors give (mean absolute deviation is the official figure). ``distilsec run`` (CVE task)
and ``distilsec bench`` both call these, so a held-out split and a CTI-Bench file are scored the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from distilsec.data.cvss import METRICS, base_score, parse_vector, severity

__all__ = ["evaluate_rcm", "evaluate_vsp"]


def evaluate_rcm(gt: Sequence[str], ranked: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Exact-match accuracy of the top-1 CWE (the official RCM metric), plus top-3 and macro-F1.

    ``ranked[i]`` is the model's CWE IDs for row i, best first.
    """
    from sklearn.metrics import f1_score

    if len(gt) != len(ranked) or not gt:
        raise ValueError("gt and predictions must be non-empty and of equal length")
    top1 = [r[0] if r else "" for r in ranked]
    hits1 = np.array([p == g for p, g in zip(top1, gt, strict=True)])
    hits3 = np.array([g in list(r)[:3] for g, r in zip(gt, ranked, strict=True)])
    labels = sorted(set(gt))
    return {
        "n": len(gt),
        "accuracy": float(hits1.mean()),
        "top3_accuracy": float(hits3.mean()),
        "macro_f1": float(f1_score(list(gt), top1, labels=labels, average="macro", zero_division=0)),
        "n_gt_classes": len(labels),
    }


def evaluate_vsp(gt_vectors: Sequence[str], pred_vectors: Sequence[str]) -> dict[str, Any]:
    """Mean absolute deviation of base scores computed from the vectors (the official VSP metric).

    Also reports per-metric accuracy and severity accuracy, which say *where* the deviation comes from.
    """
    if len(gt_vectors) != len(pred_vectors) or not gt_vectors:
        raise ValueError("gt and predictions must be non-empty and of equal length")
    gs = np.array([base_score(v) for v in gt_vectors])
    ps = np.array([base_score(v) for v in pred_vectors])
    gm = [parse_vector(v) for v in gt_vectors]
    pm = [parse_vector(v) for v in pred_vectors]
    per_metric = {m: float(np.mean([g[m] == p[m] for g, p in zip(gm, pm, strict=True)])) for m in METRICS}
    return {
        "n": len(gs),
        "mad": float(np.abs(gs - ps).mean()),
        "severity_accuracy": float(np.mean([severity(a) == severity(b) for a, b in zip(gs, ps, strict=True)])),
        "exact_vector": float(np.mean([g == p for g, p in zip(gm, pm, strict=True)])),
        "metric_accuracy": per_metric,
        "gt_severity": dict(Counter(severity(s) for s in gs)),
    }
