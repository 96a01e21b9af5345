"""Student input features computed in numpy, without torch: what an ONNX graph is fed.

The ONNX graphs start where the text has become numbers. Turning text into numbers stays in numpy
(UTF-8 bytes for the char-CNN, sklearn's HashingVectorizer for the hashed linear model) so that it is
bit-for-bit the featurisation the student was trained with: :func:`clean_text` and :func:`byte_ids` are the
students' own functions (numpy only, no torch), re-exported here; the parity check in
:mod:`distilsec.serving.export.parity` and the tests hold the two paths to the same outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from distilsec.data.text import clean_text
from distilsec.students._bytes import byte_ids

__all__ = ["clean_text", "byte_ids", "HashedFeatures"]


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
