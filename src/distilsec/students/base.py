"""The contract every student and teacher follows (scikit-learn style) and its shared plumbing.

``__init__`` only stores keyword hyperparameters; ``fit`` learns state into attributes ending in
``_``; ``predict_proba`` columns follow ``classes_``; ``save``/``load`` write safetensors + JSON.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from distilsec import __version__
from distilsec.bundle import MANIFEST, check_no_pickle, read_manifest, validate_params, with_extra, write_manifest
from distilsec.data.text import clean_text
from distilsec.errors import BundleError, DataError, NotFittedError

__all__ = ["SoftTargets", "ClassifierMixin", "encode_labels"]


@dataclass(frozen=True)
class SoftTargets:
    """A teacher's output distribution for the student's training texts (knowledge distillation).

    Attributes
    ----------
    proba : (n, n_classes) teacher probabilities at temperature 1, columns in the student's
        ``classes_`` order.
    temperature : T; the student matches ``softmax(teacher_logits / T)`` with its own logits / T.
    alpha : weight of the soft loss; the hard-label cross-entropy gets ``1 - alpha`` (Hinton et al.).
        One weight for every row, or one per row: rows of a transfer set the teacher labelled alone
        (:mod:`distilsec.methods.transfer_set`) have no hard label worth learning and get ``1``.
    """

    proba: np.ndarray
    temperature: float = 2.0
    alpha: float | np.ndarray = 0.5

    def row_alpha(self) -> np.ndarray:
        """``alpha`` as one float32 weight per row (what the training loops index per batch)."""
        return np.broadcast_to(np.asarray(self.alpha, dtype=np.float32), (len(self.proba),)).copy()

    def softened(self) -> np.ndarray:
        """Teacher probabilities at temperature T: ``softmax(log p / T)`` equals ``softmax(z / T)``."""
        logp = np.log(np.clip(self.proba, 1e-12, 1.0)) / self.temperature
        logp -= logp.max(axis=1, keepdims=True)
        p = np.exp(logp)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def encode_labels(y: Sequence[str], classes: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Map label strings to indices; ``classes`` defaults to the sorted distinct labels.

    Unknown labels (not in ``classes``) raise DataError rather than being silently dropped.
    """
    if classes is None:
        classes = sorted({str(v) for v in y})
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in y} - set(index))
    if unknown:
        raise DataError(f"unknown labels {unknown[:10]}; the model knows {list(classes)}")
    return list(classes), np.fromiter((index[str(v)] for v in y), dtype=np.int64, count=len(y))


#: The one text cleaning (:func:`distilsec.data.text.clean_text`), shared with the ONNX scoring path.
_clean = clean_text


class ClassifierMixin:
    """Shared behaviour: get/set params, fitted checks, predict, manifest save/load."""

    registry_name: ClassVar[str]

    # ---- parameters (constructor arguments only, so a config section round-trips) ----
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        out = {}
        for name in self._param_names():
            v = getattr(self, name)
            out[name] = list(v) if isinstance(v, tuple) else v
        return out

    def set_params(self, **params: Any) -> ClassifierMixin:
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {k!r}; valid: {sorted(valid)}")
            setattr(self, k, v)
        return self

    # ---- fitted state ----
    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit() first")

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Class names by argmax of :meth:`predict_proba` (thresholded decisions live in the bundle)."""
        proba = self.predict_proba(texts)  # type: ignore[attr-defined]
        return np.asarray(self.classes_)[proba.argmax(axis=1)]

    # ---- composition: a run evaluates an ensemble's members beside it ----
    def components(self) -> dict[str, Any]:
        """The fitted models this one combines, by name (an ensemble's ``member-0``...); ``{}`` for one model."""
        return {}

    def predict_proba_components(self, texts: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """:meth:`predict_proba` and each of :meth:`components`' probabilities, every component scored once."""
        return self.predict_proba(texts), {}  # type: ignore[attr-defined]

    def combine_probas(self, component_probas: Sequence[np.ndarray]) -> np.ndarray:
        """This model's probabilities from its components' (in :meth:`components` order); models with
        components override it, so a caller that scored the components once need not score them again."""
        raise NotImplementedError(f"{type(self).__name__} has no components to combine")

    def tune(self, component_probas: Mapping[str, np.ndarray], labels: Sequence[str], *, view: Any) -> None:
        """Set what this model chooses on validation data from its components' probabilities (an
        ensemble's weights). ``view``: ``positive``/``negative``/``target_fpr`` (``config.evaluation``).
        Nothing by default: most models learn everything in :meth:`fit`."""

    @staticmethod
    def _check_texts(texts: Sequence[str]) -> list[str]:
        if isinstance(texts, str):
            raise DataError("expected a sequence of texts, got a single string")
        return [clean_text(t) for t in texts]

    # ---- persistence ----
    def _manifest(self, own: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The manifest ``save`` writes: type, params, classes, the model's ``own`` entries, then ``extra``.

        ``extra`` is what ``save(path, extra=...)`` was given: the run's entries (threshold, positive,
        preprocess, metrics...), so the manifest is complete when ``save`` returns (no patching after).
        """
        m = {
            "type": self.registry_name,
            "params": self.get_params(),
            "classes": list(self.classes_),
            "distilsec_version": __version__,
        }
        m.update(own or {})
        return with_extra(m, extra)

    def _write_manifest(
        self, path: str | Path, own: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None
    ) -> None:
        self._check_fitted()
        write_manifest(path, self._manifest(own, extra))

    @classmethod
    def _read_manifest(cls, path: str | Path) -> dict[str, Any]:
        manifest = read_manifest(path)
        if manifest["type"] != cls.registry_name:
            raise BundleError(f"{path} holds a {manifest['type']!r} model, not {cls.registry_name!r}")
        check_no_pickle(path)
        for key in ("params", "classes"):
            if manifest.get(key) is None:
                raise BundleError(f"{Path(path) / MANIFEST} has no {key!r}: restore the bundle or retrain it")
        validate_params(cls, manifest["params"], Path(path) / MANIFEST)
        return manifest

    @classmethod
    def _from_manifest(cls, manifest: dict[str, Any]) -> Any:
        obj = cls(**manifest["params"])
        obj.classes_ = list(manifest["classes"])
        return obj
