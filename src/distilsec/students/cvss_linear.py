"""CVSS v3.1 base-metric prediction: one TF-IDF featuriser, one linear head per base metric.

Each of AV, AC, PR, UI, S, C, I, A is a small classification problem (2 to 4 values); the predicted
vector is assembled from the eight heads and scored with the FIRST formula (:mod:`distilsec.data.cvss`).
Per-metric heads beat predicting the score directly: every output is a valid vector, the errors are
explainable ("AV wrong"), and the VSP metric (score MAD) follows from the vector as the benchmark does.

Decoding: ``"argmax"`` takes each metric's most probable value. ``"median"`` treats the heads as independent,
puts a probability on each of the 2,592 possible vectors, and returns the most probable vector among
those whose base score is the *median* of that score distribution: the median minimises the expected
absolute error, which is exactly what the VSP metric (MAD) measures.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file
from sklearn.feature_extraction.text import TfidfVectorizer

from distilsec import __version__
from distilsec.bundle import (
    MANIFEST,
    WEIGHTS,
    check_no_pickle,
    check_weight_shapes,
    load_weights,
    read_manifest,
    read_terms,
    validate_params,
    with_extra,
    write_manifest,
)
from distilsec.data.cvss import METRICS, VALUES, base_score, build_vector, parse_vector, score_vector
from distilsec.errors import BundleError, ConfigError, DataError, NotFittedError
from distilsec.registry import register

__all__ = ["CvssLinearModel"]

VOCAB_FILE = "vocabulary.json"


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


@register("cvss_linear.v1")
class CvssLinearModel:
    """Eight linear heads (LinearSVC) over shared TF-IDF word n-grams.

    Parameters
    ----------
    ngram_range, max_features, min_df, max_chars : the featuriser (as in ``tfidf_linear.v1``).
    C : SVM regularisation of every head.
    proba_scale : per-metric probabilities are ``softmax(proba_scale * margin)``; with ``"median"`` decoding
        it sets how spread the score distribution is (2.0 was best on validation data).
    decode : ``"median"`` (MAD-optimal, default) or ``"argmax"``.
    random_state : seed.

    Attributes
    ----------
    vocabulary_, idf_ : the featuriser.  coef_ : metric -> (n_features, n_values).  intercept_ : metric ->
    (n_values,).  values_ : metric -> the values its head can predict (those seen in training).
    """

    registry_name = "cvss_linear.v1"

    def __init__(
        self,
        ngram_range: Sequence[int] = (1, 2),
        max_features: int = 100_000,
        min_df: int = 2,
        max_chars: int = 4000,
        C: float = 0.3,
        proba_scale: float = 2.0,
        decode: str = "median",
        random_state: int = 0,
    ) -> None:
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.min_df = min_df
        self.max_chars = max_chars
        self.C = C
        self.proba_scale = proba_scale
        self.decode = decode
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {
            "ngram_range": list(self.ngram_range),
            "max_features": self.max_features,
            "min_df": self.min_df,
            "max_chars": self.max_chars,
            "C": self.C,
            "proba_scale": self.proba_scale,
            "decode": self.decode,
            "random_state": self.random_state,
        }

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            ngram_range=tuple(self.ngram_range),
            max_features=None if vocabulary is not None else self.max_features,
            min_df=1 if vocabulary is not None else self.min_df,
            sublinear_tf=True,
            dtype=np.float32,
            vocabulary=vocabulary,
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this CvssLinearModel is not fitted yet; call fit() first")

    def fit(
        self, texts: Sequence[str], vectors: Sequence[str], *, sample_weight: np.ndarray | None = None
    ) -> CvssLinearModel:
        """Learn the eight heads from descriptions and their CVSS v3.x vectors (all must be valid);
        ``sample_weight`` weighs each record in every head."""
        from sklearn.svm import LinearSVC

        if isinstance(texts, str) or len(texts) != len(vectors) or not texts:
            raise DataError("fit needs equally many (non-zero) texts and vectors")
        parsed = [parse_vector(v) for v in vectors]
        # the cached vector table belongs to the values of an earlier fit: a refit must rebuild it
        self.__dict__.pop("_table", None)
        vec = self._vectorizer()
        try:
            x = vec.fit_transform([t[: self.max_chars] for t in texts]).tocsr()
        except ValueError as exc:  # scikit-learn's "empty vocabulary" / "no terms remain"
            raise DataError(
                f"cvss_linear: no word n-gram (words of 2+ characters) is in min_df={self.min_df} of the "
                f"{len(texts)} training descriptions; check the text column or lower min_df ({exc})"
            ) from None
        self.coef_: dict[str, np.ndarray] = {}
        self.intercept_: dict[str, np.ndarray] = {}
        self.values_: dict[str, list[str]] = {}
        for m in METRICS:
            y = np.array([p[m] for p in parsed])
            values = [v for v in VALUES[m] if v in set(y)]
            self.values_[m] = values
            if len(values) == 1:  # constant metric in training: predict it
                self.coef_[m] = np.zeros((x.shape[1], 1), dtype=np.float32)
                self.intercept_[m] = np.zeros(1, dtype=np.float32)
                continue
            svm = LinearSVC(C=self.C, dual=True, random_state=self.random_state).fit(  # see tfidf_linear
                x, y, sample_weight=sample_weight
            )
            order = [list(svm.classes_).index(v) for v in values]
            if len(values) == 2:  # one margin: positive = classes_[1]
                w = svm.coef_[0].astype(np.float32)
                b = float(svm.intercept_[0])
                sign = {svm.classes_[1]: 1.0, svm.classes_[0]: -1.0}
                self.coef_[m] = np.stack([sign[v] * w for v in values], axis=1)
                self.intercept_[m] = np.array([sign[v] * b for v in values], dtype=np.float32)
            else:
                self.coef_[m] = np.ascontiguousarray(svm.coef_[order].T, dtype=np.float32)
                self.intercept_[m] = svm.intercept_[order].astype(np.float32)
        self.vectorizer_ = vec
        self.vocabulary_ = dict(vec.vocabulary_)
        self.idf_ = vec.idf_.astype(np.float32)
        return self

    def predict_metric_proba(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Metric -> (n, n_values) probabilities, columns in ``values_[metric]`` order."""
        self._check_fitted()
        if isinstance(texts, str):
            raise DataError("expected a sequence of texts, got a single string")
        if not len(texts):  # scikit-learn's TF-IDF refuses zero rows; an empty batch gives (0, n_values) each
            return {m: np.zeros((0, len(self.values_[m]))) for m in METRICS}
        x = self.vectorizer_.transform([str(t)[: self.max_chars] for t in texts]).tocsr()
        return {
            m: _softmax(self.proba_scale * (np.asarray(x @ self.coef_[m], dtype=np.float64) + self.intercept_[m]))
            for m in METRICS
        }

    def _vector_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Every vector the heads can produce (value indices per metric) and its base score."""
        if not hasattr(self, "_table"):
            idx = np.array(list(itertools.product(*[range(len(self.values_[m])) for m in METRICS])))
            scores = np.array(
                [base_score(build_vector({m: self.values_[m][r[k]] for k, m in enumerate(METRICS)})) for r in idx]
            )
            self._table = (idx, scores)
        return self._table

    def predict_vectors(self, texts: Sequence[str]) -> list[str]:
        """One ``CVSS:3.1/...`` vector per text (``decode`` says how the heads are combined)."""
        if self.decode not in ("argmax", "median"):
            raise ConfigError(f"cvss_linear decode must be 'argmax' or 'median', got {self.decode!r}")
        proba = self.predict_metric_proba(texts)
        n = len(next(iter(proba.values())))
        if self.decode == "argmax":
            rows = np.stack([proba[m].argmax(axis=1) for m in METRICS], axis=1)
        else:
            idx, scores = self._vector_table()
            order = np.argsort(scores, kind="stable")
            rows = np.zeros((n, len(METRICS)), dtype=np.int64)
            for start in range(0, n, 1024):  # (rows x 2,592) at a time bounds memory
                sl = slice(start, min(n, start + 1024))
                logp = sum(np.log(proba[m][sl][:, idx[:, k]] + 1e-12) for k, m in enumerate(METRICS))
                p = np.exp(logp - logp.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                median = scores[order][(np.cumsum(p[:, order], axis=1) >= 0.5).argmax(axis=1)]
                best = np.where(scores[None, :] == median[:, None], p, -1.0).argmax(axis=1)
                rows[sl] = idx[best]
        return [build_vector({m: self.values_[m][int(r[k])] for k, m in enumerate(METRICS)}) for r in rows]

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Per text: vector, base score, severity and each metric's value with its probability."""
        proba = self.predict_metric_proba(texts)
        out = []
        for i, vector in enumerate(self.predict_vectors(texts)):
            score, sev = score_vector(vector)
            chosen = parse_vector(vector)
            metrics = {}
            for m in METRICS:
                j = self.values_[m].index(chosen[m])
                metrics[m] = {"value": chosen[m], "p": round(float(proba[m][i, j]), 4)}
            out.append({"vector": vector, "base_score": score, "severity": sev, "metrics": metrics})
        return out

    @property
    def n_parameters(self) -> int:
        self._check_fitted()
        return int(sum(c.size + self.intercept_[m].size for m, c in self.coef_.items()) + self.idf_.size)

    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        self._check_fitted()
        path = Path(path)
        own = {
            "type": self.registry_name,
            "params": self.get_params(),
            "values": self.values_,
            "n_parameters": self.n_parameters,
            "distilsec_version": __version__,
        }
        write_manifest(path, with_extra(own, extra))
        terms = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
        (path / VOCAB_FILE).write_text(json.dumps(terms, ensure_ascii=False))
        tensors = {"idf": self.idf_}
        for m in METRICS:
            tensors[f"coef.{m}"] = np.ascontiguousarray(self.coef_[m])
            tensors[f"intercept.{m}"] = self.intercept_[m]
        save_file(tensors, str(path / WEIGHTS))
        return path

    @classmethod
    def load(cls, path: str | Path) -> CvssLinearModel:
        manifest = read_manifest(path)
        if manifest["type"] != cls.registry_name:
            raise BundleError(f"{path} holds a {manifest['type']!r} model, not {cls.registry_name!r}")
        check_no_pickle(path)
        p = Path(path)
        values = manifest.get("values")
        if not isinstance(values, dict) or any(not values.get(m) for m in METRICS):
            raise BundleError(f"{p / MANIFEST}: 'values' must list the values of each of {list(METRICS)}")
        validate_params(cls, manifest.get("params") or {}, p / MANIFEST)
        obj = cls(**(manifest.get("params") or {}))
        terms = read_terms(p / VOCAB_FILE)
        tensors = load_weights(p)
        n = len(terms)
        expected = {"idf": (n,)}
        for m in METRICS:
            k = len(values[m])
            expected |= {f"coef.{m}": (n, k), f"intercept.{m}": (k,)}
        check_weight_shapes(p / WEIGHTS, tensors, expected, f"'values' and the {n} terms of {VOCAB_FILE}")
        obj.values_ = {m: list(v) for m, v in values.items()}
        obj.vocabulary_ = {t: i for i, t in enumerate(terms)}
        obj.idf_ = tensors["idf"]
        obj.coef_ = {m: tensors[f"coef.{m}"] for m in METRICS}
        obj.intercept_ = {m: tensors[f"intercept.{m}"] for m in METRICS}
        vec = obj._vectorizer(obj.vocabulary_)
        vec.idf_ = obj.idf_
        obj.vectorizer_ = vec
        return obj
