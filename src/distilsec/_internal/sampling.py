"""Class-balanced subsampling: a training budget spent equally on each class."""

from __future__ import annotations

import numpy as np

__all__ = ["balanced_indices"]


def balanced_indices(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``n`` rows, as equal per class as the class sizes allow.

    Security data is heavily imbalanced (here ~1 malicious per 12 benign); with a small budget a
    uniform sample would leave the teacher few attacks to learn from. Classes smaller than their
    share give the rest of their budget to the others.
    """
    if n >= len(y):
        return np.arange(len(y))
    classes, counts = np.unique(y, return_counts=True)
    quota = dict.fromkeys(classes.tolist(), 0)
    remaining = n
    open_classes = sorted(classes.tolist(), key=lambda c: counts[classes.tolist().index(c)])
    while remaining > 0 and open_classes:
        share = max(1, remaining // len(open_classes))
        for c in list(open_classes):
            avail = counts[classes.tolist().index(c)] - quota[c]
            take = min(share, avail, remaining)
            quota[c] += take
            remaining -= take
            if quota[c] >= counts[classes.tolist().index(c)]:
                open_classes.remove(c)
            if remaining == 0:
                break
    picked = [rng.choice(np.flatnonzero(y == c), size=q, replace=False) for c, q in quota.items() if q]
    return np.sort(np.concatenate(picked))
