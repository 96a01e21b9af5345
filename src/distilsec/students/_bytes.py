"""Texts to fixed-length byte-id matrices: the input of character-level models.

UTF-8 bytes (+1, so 0 is padding) need no vocabulary file and accept any input, binary garbage
included; only the first ``max_len`` bytes are read, so a 10 MB event costs as much as a short one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["encode_bytes", "VOCAB_SIZE"]

VOCAB_SIZE = 257


def encode_bytes(texts: Sequence[str], max_len: int) -> np.ndarray:
    """(n, max_len) int64 matrix of byte ids + 1, zero-padded on the right."""
    out = np.zeros((len(texts), max_len), dtype=np.int64)
    for i, t in enumerate(texts):
        b = t[: max_len * 4].encode("utf-8", errors="replace")[:max_len]
        if b:
            out[i, : len(b)] = np.frombuffer(b, dtype=np.uint8).astype(np.int64) + 1
    return out
