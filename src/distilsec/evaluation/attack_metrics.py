"""How an ATT&CK tagger is scored: sentence top-k, parent level, per tactic, negatives, passage-level sets.

Sentence level reads ``top`` (the best technique whatever its score, as TRAM-style evaluations do); the
set-valued figures read the techniques *above their thresholds*, which is what an analyst sees: false tags
per 1,000 negative sentences, and micro/macro-F1 of the technique set of a passage (all sentences of one
cited report) against the set ATT&CK links to it. Thresholds are chosen on validation here too
(:func:`choose_thresholds`), never on test.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from distilsec.students.technique_index import NONE, TechniqueIndex, parent_id

__all__ = ["set_f1", "sentence_metrics", "choose_thresholds", "false_tags_per_1000", "passage_metrics"]

_GRID = np.round(np.concatenate([np.arange(0.02, 0.2, 0.02), np.arange(0.2, 0.96, 0.05)]), 3)


def set_f1(gold: Sequence[Iterable[str]], pred: Sequence[Iterable[str]]) -> dict[str, float]:
    """Micro-F1, macro-F1 (over every technique in gold or predicted), exact-set match, mean P/R per item."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    exact, precisions, recalls = 0, [], []
    for g, p in zip(gold, pred, strict=True):
        g, p = set(g), set(p)
        exact += g == p
        for t in g & p:
            tp[t] += 1
        for t in p - g:
            fp[t] += 1
        for t in g - p:
            fn[t] += 1
        precisions.append(len(g & p) / len(p) if p else float(not g))
        recalls.append(len(g & p) / len(g) if g else float(not p))
    stp, sfp, sfn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    micro = 2 * stp / (2 * stp + sfp + sfn) if stp + sfp + sfn else 1.0
    labels = set(tp) | set(fp) | set(fn)
    macro = float(np.mean([2 * tp[t] / (2 * tp[t] + fp[t] + fn[t]) for t in labels])) if labels else 1.0
    n = max(len(precisions), 1)
    return {
        "micro_f1": round(micro, 4),
        "macro_f1": round(macro, 4),
        "exact_match": round(exact / n, 4),
        "precision": round(float(np.mean(precisions)) if precisions else 0.0, 4),
        "recall": round(float(np.mean(recalls)) if recalls else 0.0, 4),
        "n": len(precisions),
    }


def _macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    labels = set(gold)
    tp, fp, fn = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred, strict=True):
        if g == p:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    return float(np.mean([2 * tp[t] / (2 * tp[t] + fp[t] + fn[t]) for t in labels])) if labels else 0.0


def sentence_metrics(
    top: Sequence[str], ranked: Sequence[Sequence[str]], gold: Sequence[str], index: TechniqueIndex
) -> dict[str, Any]:
    """On positive sentences: top-1 / top-3 exact, parent-level top-1, macro-F1 of ``top``, top-1 per tactic."""
    if not gold:
        return {"n": 0}
    top_arr, gold_arr = np.asarray(top), np.asarray(gold)
    hit = top_arr == gold_arr
    per_tactic: dict[str, list[bool]] = defaultdict(list)
    for h, g in zip(hit, gold, strict=True):
        for tactic in index.tactics(g) or ["(unknown)"]:
            per_tactic[tactic].append(bool(h))
    return {
        "n": len(gold),
        "top1": round(float(hit.mean()), 4),
        "top3": round(float(np.mean([g in set(r[:3]) for r, g in zip(ranked, gold, strict=True)])), 4),
        "parent_top1": round(float(np.mean([parent_id(t) == parent_id(g) for t, g in zip(top, gold, strict=True)])), 4),
        "macro_f1": round(_macro_f1(list(gold), list(top)), 4),
        "per_tactic_top1": {
            t: {"top1": round(float(np.mean(v)), 4), "n": len(v)} for t, v in sorted(per_tactic.items())
        },
    }


def _tagged(proba: np.ndarray, thr: np.ndarray) -> np.ndarray:
    return proba >= thr


def choose_thresholds(
    proba: np.ndarray, gold: Sequence[str], classes: Sequence[str], min_support: int = 3
) -> tuple[float, dict[str, float]]:
    """A global threshold maximising micro-F1 of the tagged sets over validation sentences (negatives
    included: each holds the empty set), then per-technique thresholds maximising that technique's F1 where
    validation holds ``min_support`` of its sentences (others keep the global one)."""
    classes = list(classes)
    cols = np.array([j for j, c in enumerate(classes) if c != NONE])
    p = proba[:, cols]
    index = {classes[j]: i for i, j in enumerate(cols)}
    y = np.zeros_like(p, dtype=bool)
    for r, g in enumerate(gold):
        if g in index:
            y[r, index[g]] = True
    best_t, best_f = 0.5, -1.0
    for t in _GRID:
        hit = p >= t
        tp = (hit & y).sum()
        f = 2 * tp / (hit.sum() + y.sum()) if hit.sum() + y.sum() else 0.0
        if f > best_f:
            best_t, best_f = float(t), float(f)
    support = y.sum(axis=0)
    per: dict[str, float] = {}
    for i in np.flatnonzero(support >= min_support):
        col, yc = p[:, i], y[:, i]
        fs = [(2 * (yc & (col >= t)).sum() / ((col >= t).sum() + yc.sum()), -abs(t - best_t), t) for t in _GRID]
        per[classes[cols[i]]] = float(max(fs)[2])
    return best_t, per


def false_tags_per_1000(tags: Sequence[Sequence[Any]]) -> float:
    """Techniques tagged on negative sentences, per 1,000 of them (what an analyst must dismiss)."""
    return round(1000.0 * sum(len(t) for t in tags) / max(len(tags), 1), 2)


def passage_metrics(
    passages: Mapping[str, Sequence[int]], gold: Sequence[str], tagged: Sequence[Sequence[str]], level: str = "exact"
) -> dict[str, Any]:
    """Set metrics per passage (the sentences of one cited report): gold = the techniques of its sentences."""
    norm = parent_id if level == "parent" else (lambda t: t)
    gold_sets, pred_sets = [], []
    for rows in passages.values():
        gold_sets.append({norm(gold[i]) for i in rows if gold[i] != NONE})
        pred_sets.append({norm(t) for i in rows for t in tagged[i]})
    return set_f1(gold_sets, pred_sets)
