"""Texts to fixed-length byte-id matrices: the input of character-level models.

UTF-8 bytes (+1, so 0 is padding) need no vocabulary file and accept any input, binary garbage
included; only the first ``max_len`` bytes are read, so a 10 MB event costs as much as a short one.
numpy only: the ONNX scoring path (:mod:`distilsec.serving.runtime.features`) uses the same function
without torch, so training and serving cannot featurise differently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["encode_bytes", "byte_ids", "VOCAB_SIZE"]

VOCAB_SIZE = 257


def byte_ids(texts: Sequence[str], max_len: int, *, trim: bool = False) -> np.ndarray:
    """(n, L) int64 byte ids + 1 (0 = padding), zero-padded on the right.

    Parameters
    ----------
    texts : cleaned texts.
    max_len : bytes read per text.
    trim : pad only to ``min(max_len, longest + 1)`` instead of ``max_len``.

    Notes
    -----
    ``trim`` is exact for a *max*-pooling char-CNN, and only for it: a text shorter than the padded
    length sees at least one all-padding window (whose activation is ``relu(bias)``) whether the padding
    is 1 byte or 100 bytes long, and a text of exactly ``max_len`` bytes sees none either way. Sum pooling
    counts those windows, so it must always pad to ``max_len``. Short events (URLs, command lines) then
    cost what their length costs, not what ``max_len`` costs.
    """
    encoded = [t[: max_len * 4].encode("utf-8", errors="replace")[:max_len] for t in texts]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    width = max_len
    if trim:
        width = int(min(max_len, (lengths.max() if len(lengths) else 0) + 1))
    width = max(width, 1)
    buf = b"".join(b.ljust(width, b"\0") for b in encoded)
    ids = np.frombuffer(buf, dtype=np.uint8).reshape(len(encoded), width).astype(np.int64) + 1
    ids[np.arange(width)[None, :] >= lengths[:, None]] = 0
    return ids


def encode_bytes(texts: Sequence[str], max_len: int) -> np.ndarray:
    """(n, max_len) int64 matrix of byte ids + 1, zero-padded on the right (what the char-CNN trains on)."""
    if max_len < 1:  # byte_ids pads to at least one column; a zero-length model input stays zero-length
        return np.zeros((len(texts), max_len), dtype=np.int64)
    return byte_ids(texts, max_len)
