"""Batched torch inference for the torch students: what loading and scoring a bundle needs, nothing more.

Kept apart from :mod:`distilsec.students._torch_training` (optimiser, distillation loss, rich progress
bars) so that scoring a bundle with ``--runtime native`` imports no training code: the students import
the training loop inside ``fit`` only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["predict_batches"]


@torch.inference_mode()
def predict_batches(
    module: torch.nn.Module, make_batch: Callable[[np.ndarray], Any], n: int, batch_size: int
) -> np.ndarray:
    """Softmax probabilities for rows 0..n-1, computed batch by batch (bounded memory on big inputs)."""
    module.eval()
    out = []
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(n, start + batch_size))
        out.append(torch.softmax(module(make_batch(idx)).float(), dim=1).cpu().numpy())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float64)
