"""Label noise for the noise experiment: real training labels are noisy (signatures, heuristics)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["flip_labels"]


def flip_labels(y: Sequence[str], rate: float, classes: Sequence[str], random_state: int = 0) -> list[str]:
    """Return a copy of ``y`` in which a share ``rate`` of labels, drawn uniformly, is replaced by
    another class chosen uniformly (for binary tasks: the other class)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")
    rng = np.random.default_rng(random_state)
    out = list(y)
    n_flip = int(round(rate * len(out)))
    for i in rng.choice(len(out), size=n_flip, replace=False):
        others = [c for c in classes if c != out[i]]
        out[i] = others[rng.integers(len(others))]
    return out
