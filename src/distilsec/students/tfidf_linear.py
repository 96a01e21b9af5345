"""TF-IDF word n-grams + a linear classifier: the strong, fast baseline for text like CVE descriptions.

Two losses on the same features: ``"svm"`` (scikit-learn's LinearSVC, one-vs-rest hinge; hard labels
only, the classic bar to beat) and ``"softmax"`` (multinomial logistic regression trained with the shared
torch loop, so it can learn from a teacher's soft targets: the distilled student). The vocabulary is
stored as JSON and the IDF weights and coefficients as safetensors, so loading runs no code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from safetensors.numpy import save_file
from sklearn.feature_extraction.text import TfidfVectorizer

from distilsec.bundle import WEIGHTS, check_weight_shapes, load_weights, read_terms
from distilsec.errors import ConfigError, DataError
from distilsec.registry import register
from distilsec.students.base import ClassifierMixin, SoftTargets, encode_labels
from distilsec.students.hashed_linear import _SparseLinear, _to_torch_sparse

__all__ = ["TfidfLinearStudent"]

VOCAB_FILE = "vocabulary.json"
LOSSES = ("svm", "softmax")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


@register("tfidf_linear.v1")
class TfidfLinearStudent(ClassifierMixin):
    """Linear classifier on TF-IDF word n-grams.

    Parameters
    ----------
    ngram_range : word n-gram lengths.
    max_features : vocabulary size (the most frequent n-grams); bounds the model at
        ``max_features * n_classes`` weights.
    min_df : an n-gram must occur in this many training texts to be kept (drops IDs and typos).
    max_chars : characters read per text.
    loss : ``"svm"`` (LinearSVC, hard labels) or ``"softmax"`` (torch, accepts soft targets).
    C : SVM regularisation.
    proba_scale : the SVM's margins are turned into probabilities as ``softmax(proba_scale * margin)``;
        it changes no ranking, only how peaked the distribution a teacher hands on is.
    epochs, batch_size, lr, weight_decay : softmax training.
    random_state : seed.

    Attributes
    ----------
    classes_ : class names.  vocabulary_ : n-gram -> column.  idf_ : (n_features,) IDF weights.
    coef_ : (n_features, n_classes) float32.  intercept_ : (n_classes,).
    """

    def __init__(
        self,
        ngram_range: Sequence[int] = (1, 2),
        max_features: int = 100_000,
        min_df: int = 2,
        max_chars: int = 4000,
        loss: str = "svm",
        C: float = 0.5,
        proba_scale: float = 5.0,
        epochs: int = 6,
        batch_size: int = 256,
        lr: float = 0.02,
        weight_decay: float = 0.0,
        random_state: int = 0,
    ) -> None:
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.min_df = min_df
        self.max_chars = max_chars
        self.loss = loss
        self.C = C
        self.proba_scale = proba_scale
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            ngram_range=tuple(self.ngram_range),
            max_features=None if vocabulary is not None else self.max_features,
            min_df=1 if vocabulary is not None else self.min_df,
            sublinear_tf=True,
            lowercase=True,
            dtype=np.float32,
            vocabulary=vocabulary,
        )

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF features (L2-normalised rows) with the fitted vocabulary."""
        self._check_fitted()
        texts = self._check_texts(texts)
        if not texts:  # scikit-learn's TF-IDF refuses zero rows; an empty batch scores as (0, n_classes)
            return sp.csr_matrix((0, len(self.vocabulary_)), dtype=np.float32)
        return self.vectorizer_.transform([t[: self.max_chars] for t in texts]).tocsr()

    def fit(
        self,
        texts: Sequence[str],
        y: Sequence[str],
        *,
        soft_targets: SoftTargets | None = None,
        sample_weight: np.ndarray | None = None,
        classes: Sequence[str] | None = None,
    ) -> TfidfLinearStudent:
        from distilsec.students._torch_training import train_torch_classifier  # fit only: scoring never imports it

        if self.loss not in LOSSES:
            raise ConfigError(f"tfidf_linear loss must be one of {LOSSES}, got {self.loss!r}")
        if soft_targets is not None and self.loss == "svm":
            raise ConfigError("tfidf_linear with loss 'svm' learns from hard labels only; use loss 'softmax'")
        texts = self._check_texts(texts)
        classes_, y_idx = encode_labels(y, classes)
        vec = self._vectorizer()
        try:
            x = vec.fit_transform([t[: self.max_chars] for t in texts]).tocsr()
        except ValueError as exc:  # scikit-learn's "empty vocabulary" / "no terms remain"
            raise DataError(
                f"tfidf_linear: no word n-gram (words of 2+ characters) is in min_df={self.min_df} of the "
                f"{len(texts)} training texts; check the text column or lower min_df ({exc})"
            ) from None
        k = len(classes_)
        if self.loss == "svm":
            from sklearn.svm import LinearSVC

            present = np.unique(y_idx)
            if len(present) < 2:
                raise ConfigError("an SVM needs at least two classes in the training labels")
            # dual coordinate descent: on TF-IDF text it is the fast solver even when rows outnumber features
            # (126k x 100k CVEs: 2x faster than the primal solver scikit-learn's "auto" picks, same accuracy)
            svm = LinearSVC(C=self.C, dual=True, random_state=self.random_state).fit(
                x, y_idx, sample_weight=sample_weight
            )
            coef = np.zeros((x.shape[1], k), dtype=np.float32)
            intercept = np.full(k, -10.0, dtype=np.float32)  # classes absent from y never win
            cols = present if len(present) > 2 else present[1:]
            coef[:, cols] = svm.coef_.T
            intercept[cols] = svm.intercept_
            if len(present) == 2:  # binary LinearSVC has one margin: class 1 vs class 0
                coef[:, present[0]] = -svm.coef_[0]
                intercept[present[0]] = -svm.intercept_[0]
            self.history_: list[float] = []
        else:
            module = _SparseLinear(x.shape[1], k)
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
                desc="tfidf-linear (softmax)",
            )
            coef = module.weight.detach().numpy().copy()
            intercept = module.bias.detach().numpy().copy()
        self.classes_ = classes_
        self.vectorizer_ = vec
        self.vocabulary_ = dict(vec.vocabulary_)
        self.idf_ = vec.idf_.astype(np.float32)
        self.coef_ = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept_ = intercept.astype(np.float32)
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        x = self.transform(texts)
        return np.asarray(x @ self.coef_, dtype=np.float64) + self.intercept_

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        z = self.decision_function(texts)
        return _softmax(z * self.proba_scale if self.loss == "svm" else z)

    @property
    def n_parameters(self) -> int:
        """Weights + biases + IDF values (the vocabulary strings are not counted)."""
        self._check_fitted()
        return int(self.coef_.size + self.intercept_.size + self.idf_.size)

    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        path = Path(path)
        self._write_manifest(path, {"n_parameters": self.n_parameters}, extra)
        terms = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
        (path / VOCAB_FILE).write_text(json.dumps(terms, ensure_ascii=False))
        save_file({"coef": self.coef_, "intercept": self.intercept_, "idf": self.idf_}, str(path / WEIGHTS))
        return path

    @classmethod
    def load(cls, path: str | Path) -> TfidfLinearStudent:
        manifest = cls._read_manifest(path)
        obj = cls._from_manifest(manifest)
        p = Path(path)
        terms = read_terms(p / VOCAB_FILE)
        tensors = load_weights(p)
        n, k = len(terms), len(obj.classes_)
        expected = {"coef": (n, k), "intercept": (k,), "idf": (n,)}
        check_weight_shapes(p / WEIGHTS, tensors, expected, f"classes and the {n} terms of {VOCAB_FILE}")
        obj.vocabulary_ = {t: i for i, t in enumerate(terms)}
        obj.coef_, obj.intercept_, obj.idf_ = tensors["coef"], tensors["intercept"], tensors["idf"]
        vec = obj._vectorizer(obj.vocabulary_)
        vec.idf_ = obj.idf_
        obj.vectorizer_ = vec
        return obj
