"""Evaluate an ATT&CK tagger on a split: decisions tuned on validation, every figure on held-out sources.

:func:`tune_decisions` chooses, on validation only, the parent back-off ratio of ``top`` and the tagging
thresholds (one global, one per technique with enough validation sentences); :func:`evaluate_attack` then
reports, on a held-out part, the sentence figures over positive sentences, false tags per 1,000 negative
sentences, and passage-level set figures (a passage = the positive sentences citing one report).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from distilsec.data.example import Example
from distilsec.evaluation.attack_metrics import (
    choose_thresholds,
    false_tags_per_1000,
    passage_metrics,
    sentence_metrics,
)
from distilsec.students.attack_model import AttackModel
from distilsec.students.technique_index import NONE

__all__ = ["tune_decisions", "evaluate_attack", "passages_of"]


def _texts(part: Sequence[Example]) -> list[str]:
    return [e.text for e in part]


def _gold(part: Sequence[Example]) -> list[str]:
    return [str(e.label) for e in part]


def tune_decisions(
    model: AttackModel,
    val: Sequence[Example],
    *,
    ratios: Sequence[float] = (0.3, 0.5, 0.7),
    min_support: int = 3,
    proba: np.ndarray | None = None,
) -> dict[str, Any]:
    """Set ``model.backoff_ratio`` (best validation top-1 over positives, arg-max included) and its thresholds."""
    proba = model.predict_proba(_texts(val)) if proba is None else proba
    gold = _gold(val)
    pos = np.array([g != NONE for g in gold])
    tried = {}
    for ratio in [None, *ratios]:
        tops, _ = model.top_ids(proba[pos], ratio)
        tried["argmax" if ratio is None else str(ratio)] = float(np.mean(np.asarray(tops) == np.asarray(gold)[pos]))
    best = max(tried, key=lambda k: (tried[k], k == "argmax"))
    model.backoff_ratio = None if best == "argmax" else float(best)
    model.threshold, model.thresholds = choose_thresholds(proba, gold, model.classes_, min_support)
    return {
        "backoff_ratio": model.backoff_ratio,
        "val_top1_by_backoff": {k: round(v, 4) for k, v in tried.items()},
        "threshold": model.threshold,
        "per_technique_thresholds": len(model.thresholds),
    }


def passages_of(part: Sequence[Example]) -> dict[str, list[int]]:
    """Positive rows grouped by their first cited report (rows citing nothing stand alone)."""
    out: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(part):
        if e.label == NONE:
            continue
        cites = e.meta.get("citations") or ()
        out[str(cites[0]) if cites else f"row:{e.id}"].append(i)
    return dict(out)


def evaluate_attack(model: AttackModel, part: Sequence[Example], proba: np.ndarray | None = None) -> dict[str, Any]:
    """Every held-out figure of one model on ``part`` (``proba``: its probabilities, if already computed)."""
    proba = model.predict_proba(_texts(part)) if proba is None else proba
    gold = _gold(part)
    pos = np.flatnonzero([g != NONE for g in gold])
    neg = np.flatnonzero([g == NONE for g in gold])
    classes = np.asarray(model.classes_)
    tech = classes != NONE
    tops, _ = model.top_ids(proba[pos])
    order = np.argsort(-np.where(tech, proba[pos], -1.0), axis=1, kind="stable")[:, :3]
    ranked = [list(classes[r]) for r in order]
    tagged = [[t for t, _ in row] for row in model.above_threshold(proba)]
    out: dict[str, Any] = {"sentences": sentence_metrics(tops, ranked, [gold[i] for i in pos], model.index)}
    out["negatives"] = {
        "n": int(len(neg)),
        "false_tags_per_1000": false_tags_per_1000([tagged[i] for i in neg]),
        "quiet_share": round(float(np.mean([not tagged[i] for i in neg])), 4) if len(neg) else None,
    }
    out["positives_tagged_share"] = round(float(np.mean([bool(tagged[i]) for i in pos])), 4) if len(pos) else None
    passages = passages_of(part)
    out["passages"] = {
        "exact": passage_metrics(passages, gold, tagged, "exact"),
        "parent": passage_metrics(passages, gold, tagged, "parent"),
    }
    return out
