"""Student input features computed in numpy, without torch: what an ONNX graph is fed.

The ONNX graphs start where the text has become numbers. Turning text into numbers stays in numpy
(UTF-8 bytes for the char-CNN, sklearn's HashingVectorizer for the hashed linear model) so that it is
bit-for-bit the featurisation the student was trained with; the parity check in
:mod:`distilsec.serving.export.parity` and the tests hold the two paths to the same outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["clean_text", "byte_ids", "HashedFeatures"]


def clean_text(t: object) -> str:
    """The same cleaning as ``ClassifierMixin._check_texts``: None -> "", lone surrogates -> "?".

    Re-stated here (not imported) because importing :mod:`distilsec.students` pulls in torch, and an
    ONNX deployment must run without it; a test checks the two agree.
    """
    if t is None:
        return ""
    s = t if isinstance(t, str) else str(t)
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", errors="replace").decode("utf-8")
    return s


def byte_ids(texts: Sequence[str], max_len: int, *, trim: bool = False) -> np.ndarray:
    """(n, L) int64 byte ids + 1 (0 = padding), identical to the char-CNN's ``encode_bytes``.

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


class HashedFeatures:
    """Hashed n-grams exactly as ``HashedLinearStudent.transform``, as (indices, values, rows).

    The sparse matrix is handed to ONNX in coordinate form: the graph gathers the weight rows of the
    non-zero buckets, scales them and sums them per text, so it never builds a dense (n, 2**18) input.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        from distilsec._internal.tokens import hashing_vectorizer_params

        self.max_chars = int(params.get("max_chars", 512))
        self.vectorizer = HashingVectorizer(
            **hashing_vectorizer_params(
                str(params.get("analyzer", "char")),
                tuple(params.get("ngram_range", (1, 4))),
                int(params.get("n_features", 2**18)),
                bool(params.get("lowercase", True)),
            )
        )

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        x = self.vectorizer.transform(t[: self.max_chars] for t in texts).tocsr()
        counts = np.diff(x.indptr)
        return {
            "indices": x.indices.astype(np.int64),
            "values": x.data.astype(np.float32),
            "rows": np.repeat(np.arange(x.shape[0], dtype=np.int64), counts),
            "n_rows": np.array([x.shape[0]], dtype=np.int64),
        }
