"""The torch network of :class:`~distilsec.students.ngram_embedding.NgramEmbeddingStudent`, used to fit only.

Scoring multiplies the saved embedding and output weights with numpy, so a tagging process never imports torch.
"""

from __future__ import annotations

import scipy.sparse as sp
import torch

__all__ = ["NgramNet"]


class NgramNet(torch.nn.Module):
    """Mean of hashed n-gram embeddings (an ``EmbeddingBag`` over a row-normalised CSR matrix), then a linear
    softmax head: fastText's architecture."""

    def __init__(self, n_buckets: int, dim: int, k: int, dropout: float) -> None:
        super().__init__()
        self.embedding = torch.nn.EmbeddingBag(n_buckets, dim, mode="sum", sparse=True)
        torch.nn.init.normal_(self.embedding.weight, 0.0, 0.05)
        self.dropout = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(dim, k)

    def forward(self, x: sp.csr_matrix) -> torch.Tensor:
        e = self.embedding(
            torch.as_tensor(x.indices, dtype=torch.long),
            torch.as_tensor(x.indptr[:-1], dtype=torch.long),
            per_sample_weights=torch.as_tensor(x.data, dtype=torch.float32),
        )
        return self.out(self.dropout(e))
