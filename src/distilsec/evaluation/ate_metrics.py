"""CTI-Bench ATE metrics: a passage's predicted set of ATT&CK techniques against its ground-truth set.

CTI-Bench's ATE task (attack technique extraction) gives a report passage and the techniques it describes;
a model answers a set. Its paper reports micro- and macro-F1; an analyst also wants to know how often the
whole set is right (``exact_match``) and how precise and complete a passage's answer is on average.

Definitions (``G`` ground truth, ``P`` predicted, per row; counts summed over rows for micro):

- ``micro_*``: TP = |G ∩ P|, FP = |P \\ G|, FN = |G \\ P| summed over rows, then P, R, F1;
- ``macro_f1``: F1 per technique (its TP/FP/FN over rows), averaged over every technique in some G or some P
  (a technique predicted but never true counts, with F1 0: spraying tags costs);
- ``exact_match``: share of rows with P == G;
- ``mean_precision`` / ``mean_recall``: per-row precision (|G ∩ P| / |P|; an empty P scores 1 when G is empty
  too, else 0) and recall (|G ∩ P| / |G|; an empty G scores 1 when P is empty too, else 0), averaged.

F1s, exact match and means are rounded to 4 decimals.

Level: CTI-Bench's ground truth holds parent techniques only (``T1071``), while a tagger may answer
sub-techniques (``T1071.001``). :func:`resolve_level` picks ``parent`` for ``auto`` when no ground-truth ID
has a sub-technique part, and :func:`at_level` maps both sides to parents then, so a correct sub-technique
is not counted as a miss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["LEVELS", "ate_metrics", "at_level", "resolve_level", "parent_of"]

LEVELS = ("auto", "exact", "parent")


def parent_of(technique: str) -> str:
    """``T1055.011`` -> ``T1055``; a parent is its own parent."""
    return technique.split(".", 1)[0]


def resolve_level(gt: Iterable[Iterable[str]], level: str = "auto") -> str:
    """``exact`` or ``parent``: ``auto`` is ``parent`` when no ground-truth ID names a sub-technique."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if level != "auto":
        return level
    return "exact" if any("." in t for ids in gt for t in ids) else "parent"


def at_level(ids: Iterable[str], level: str, parent: Callable[[str], str] = parent_of) -> set[str]:
    """The set of ``ids`` at ``level`` (``exact``: as they are; ``parent``: each mapped to its parent)."""
    if level == "parent":
        return {parent(t) for t in ids}
    if level == "exact":
        return set(ids)
    raise ValueError(f"level must be exact or parent here, not {level!r} (resolve 'auto' first)")


def ate_metrics(gt: Sequence[Iterable[str]], pred: Sequence[Iterable[str]]) -> dict[str, Any]:
    """Micro/macro-F1, exact-set match and mean per-row precision/recall of predicted technique sets.

    ``gt`` and ``pred`` hold one collection of technique IDs per row, at the same level (see :func:`at_level`).
    The F1s, exact match and means are :func:`~distilsec.evaluation.attack_metrics.set_f1`'s (the figures of
    a run's own passage-level evaluation, so the two read alike); micro precision and recall and the counts
    behind them are added here.
    """
    from distilsec.evaluation.attack_metrics import set_f1

    if len(gt) != len(pred):
        raise ValueError(f"{len(gt)} ground-truth rows but {len(pred)} predictions")
    tp = fp = fn = 0
    labels: set[str] = set()
    for g_ids, p_ids in zip(gt, pred, strict=True):
        g, p = set(g_ids), set(p_ids)
        tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
        labels |= g | p
    f1 = set_f1(gt, pred) if len(gt) else {}
    return {
        "rows": len(gt),
        "micro_precision": tp / (tp + fp) if tp + fp else 0.0,
        "micro_recall": tp / (tp + fn) if tp + fn else 0.0,
        "micro_f1": float(f1.get("micro_f1", 0.0)),
        "macro_f1": float(f1.get("macro_f1", 0.0)),
        "exact_match": float(f1.get("exact_match", 0.0)),
        "mean_precision": float(f1.get("precision", 0.0)),
        "mean_recall": float(f1.get("recall", 0.0)),
        "techniques": len(labels),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
    }
