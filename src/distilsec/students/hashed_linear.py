"""Hashed character-n-gram linear model: the fast baseline every security team should beat.

Character n-grams (or, for long documents such as HTML pages, word n-grams) are hashed into a fixed
number of buckets (no vocabulary to store or leak),
and a linear softmax layer is trained with the same loss as every other student, so it can also
learn from a teacher's soft targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from safetensors.numpy import save_file
from sklearn.feature_extraction.text import HashingVectorizer
from torch import nn

from distilsec._internal.tokens import hashing_vectorizer_params
from distilsec.bundle import WEIGHTS, check_weight_shapes, load_weights
from distilsec.registry import register
from distilsec.students.base import ClassifierMixin, SoftTargets, encode_labels

__all__ = ["HashedLinearStudent"]


class _SparseLinear(nn.Module):
    def __init__(self, n_features: int, n_classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_features, n_classes))
        self.bias = nn.Parameter(torch.zeros(n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sparse.mm(x, self.weight) + self.bias


def _to_torch_sparse(x: sp.csr_matrix) -> torch.Tensor:
    coo = x.tocoo()
    idx = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
    return torch.sparse_coo_tensor(
        idx, torch.as_tensor(coo.data, dtype=torch.float32), coo.shape, check_invariants=False
    )


@register("hashed_linear.v1")
class HashedLinearStudent(ClassifierMixin):
    """Linear softmax classifier on hashed character n-grams.

    Parameters
    ----------
    n_features : number of hash buckets (2**18 by default, 1 MB of float32 weights per class).
    ngram_range : n-gram lengths (characters, or tokens with ``analyzer="word"``).
    max_chars : characters read per text; a 10 MB event costs as much as a short one.
    analyzer : ``"char"`` (character n-grams, the default and the meaning of every earlier config),
        ``"char_wb"`` (character n-grams inside word boundaries) or ``"word"`` (n-grams of
        :data:`~distilsec._internal.tokens.TOKEN_PATTERN` tokens). Character 1-4-grams cost about 4 hashes
        per character, in Python: fine for a 200-character command line, too slow for a 100 KB page, where
        ``"word"`` hashes one token per ~8 characters with the same tokens as the HTML inspector.
    lowercase : fold case before hashing.
    epochs, batch_size, lr, weight_decay, random_state : training.

    Attributes
    ----------
    classes_ : class names.
    coef_ : (n_features, n_classes) float32 weights.  intercept_ : (n_classes,) biases.
    """

    def __init__(
        self,
        n_features: int = 2**18,
        ngram_range: Sequence[int] = (1, 4),
        max_chars: int = 512,
        lowercase: bool = True,
        analyzer: str = "char",
        epochs: int = 5,
        batch_size: int = 256,
        lr: float = 0.05,
        weight_decay: float = 1e-6,
        random_state: int = 0,
    ) -> None:
        self.n_features = n_features
        self.ngram_range = ngram_range
        self.max_chars = max_chars
        self.lowercase = lowercase
        self.analyzer = analyzer
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state

    def _vectorizer(self) -> HashingVectorizer:
        return HashingVectorizer(
            **hashing_vectorizer_params(self.analyzer, tuple(self.ngram_range), self.n_features, self.lowercase)
        )

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Hashed n-gram features (the model's input), exposed for inspection and export."""
        texts = self._check_texts(texts)
        if not texts:  # scikit-learn's hashing raises StopIteration on zero rows; an empty batch is (0, n_classes)
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)
        return self._vectorizer().transform(t[: self.max_chars] for t in texts)

    def fit(
        self,
        texts: Sequence[str],
        y: Sequence[str],
        *,
        soft_targets: SoftTargets | None = None,
        sample_weight: np.ndarray | None = None,
        classes: Sequence[str] | None = None,
    ) -> HashedLinearStudent:
        from distilsec.students._torch_training import train_torch_classifier  # fit only: scoring never imports it

        self.classes_, y_idx = encode_labels(y, classes)
        x = self.transform(texts).tocsr()
        module = _SparseLinear(self.n_features, len(self.classes_))
        self.history_ = train_torch_classifier(
            module,
            lambda idx: _to_torch_sparse(x[idx]),
            y_idx,
            soft_targets=soft_targets,
            sample_weight=sample_weight,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            random_state=self.random_state,
            device=torch.device("cpu"),
            desc="hashed-linear student",
        )
        self.coef_ = module.weight.detach().numpy().copy()
        self.intercept_ = module.bias.detach().numpy().copy()
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.transform(texts) @ self.coef_) + self.intercept_

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        z = self.decision_function(texts).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    @property
    def n_parameters(self) -> int:
        self._check_fitted()
        return int(self.coef_.size + self.intercept_.size)

    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        path = Path(path)
        self._write_manifest(path, {"n_parameters": self.n_parameters}, extra)
        save_file({"coef": self.coef_, "intercept": self.intercept_}, str(path / WEIGHTS))
        return path

    @classmethod
    def load(cls, path: str | Path) -> HashedLinearStudent:
        manifest = cls._read_manifest(path)
        obj = cls._from_manifest(manifest)
        tensors = load_weights(path)
        k = len(obj.classes_)
        expected = {"coef": (obj.n_features, k), "intercept": (k,)}
        check_weight_shapes(Path(path) / WEIGHTS, tensors, expected, "params (n_features) and classes")
        obj.coef_, obj.intercept_ = tensors["coef"], tensors["intercept"]
        return obj
