"""Similar training examples: the analyst's context for a decision ("how did we label texts like this?").

Character n-gram TF-IDF cosine similarity, computed in blocks so that memory stays at ``block x n_train``
floats whatever the data size. The same search finds label conflicts curation keeps: a near-identical
training text (similarity at or above ``conflict_at``) that carries another label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from distilsec.methods.label_doubt import text_vectoriser

__all__ = ["Neighbours", "similar_examples"]


@dataclass
class Neighbours:
    """For each query: indices into the training texts (best first) and their cosine similarities."""

    index: np.ndarray  # (n_query, k) int, -1 where fewer than k neighbours exist
    similarity: np.ndarray  # (n_query, k) float


def similar_examples(
    train_texts: Sequence[str],
    queries: Sequence[str],
    *,
    k: int = 3,
    exclude: Sequence[int | None] | None = None,
    block: int = 512,
    max_chars: int = 2000,
) -> Neighbours:
    """The ``k`` most similar training texts of every query; ``exclude[i]`` is a training index the i-th
    query must not find (itself, when the query is a training example)."""
    n_q = len(queries)
    index = np.full((n_q, k), -1, dtype=np.int64)
    sim = np.zeros((n_q, k), dtype=np.float32)
    if not len(train_texts) or not n_q or k < 1:
        return Neighbours(index, sim)
    vec = text_vectoriser()
    x_train = vec.fit_transform([t[:max_chars] for t in train_texts]).T.tocsr()  # type: ignore[attr-defined]
    kk = min(k, len(train_texts))
    for start in range(0, n_q, block):
        stop = min(start + block, n_q)
        xq = vec.transform([t[:max_chars] for t in queries[start:stop]])  # type: ignore[attr-defined]
        scores = (xq @ x_train).toarray()
        if exclude is not None:
            for row, ex in enumerate(exclude[start:stop]):
                if ex is not None and ex >= 0:
                    scores[row, ex] = -1.0
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        index[start:stop, :kk] = np.take_along_axis(top, order, axis=1)
        sim[start:stop, :kk] = np.take_along_axis(top_scores, order, axis=1)
    index[sim < 0] = -1
    return Neighbours(index, np.clip(sim, 0.0, 1.0))
