"""A loaded bundle ready to score raw texts: the model, its engine, and what scoring needs from its manifest.

``distilsec score``, ``distilsec serve``, the Ray engine, the worker processes of ``--workers`` and the
export parity check all score through :class:`ScoringModel`, so they apply the same preprocessing,
truncation, threshold and class columns. It imports no training code: the engine is chosen by
:mod:`distilsec.serving.runtime` on top of the one loader, :func:`distilsec.bundle.load_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from distilsec.bundle import read_manifest, resolve_bundle
from distilsec.data.preprocess import get_preprocessor
from distilsec.errors import BundleError
from distilsec.serving.runtime import load_runtime_model

__all__ = ["ScoringModel", "MIN_ROWS_PER_THREAD"]

#: smallest part of a batch worth a thread of its own (smaller parts cost more to hand over than to score)
MIN_ROWS_PER_THREAD = 256


class ScoringModel:
    """A loaded bundle plus what scoring needs from its manifest: preprocessing and the threshold.

    ``runtime`` picks the engine (see :mod:`distilsec.serving.runtime`): "auto" runs ``model.onnx`` when the
    bundle has one and the native model otherwise; "native"/"torch", "onnx", "onnx-int8" force one.
    """

    def __init__(self, bundle_dir: str | Path, runtime: str = "auto", threads: int | None = None) -> None:
        self.bundle_dir = resolve_bundle(bundle_dir)  # a run folder stands for the bundle it ships
        self.manifest = read_manifest(self.bundle_dir)
        self.model, self.runtime = load_runtime_model(self.bundle_dir, runtime, threads)
        self.classes = list(self.model.classes_)
        self.threshold = self.manifest.get("threshold")
        #: an ATT&CK tagger (attack_model.v1): its negative class is "none", so a score is the probability that
        #: a sentence describes some technique, and a label is the tagger's own decision (the best technique at
        #: or above its per-technique threshold, else "none"); names and tactics: ``distilsec attack``
        is_tagger = self.manifest.get("type") == "attack_model.v1" and hasattr(self.model, "above_threshold")
        self.tagger: Any = self.model if is_tagger else None
        self.negative = self.manifest.get("negative", "none" if self.tagger is not None else "benign")
        self.positive = self.manifest.get("positive", "malicious")
        self.preprocess = get_preprocessor(self.manifest.get("preprocess", "none"))
        self.max_chars = int(self.manifest.get("max_text_chars", 4096))
        #: the columns the bundle was trained on (None for bundles written before they were recorded)
        self.text_column: str | None = self.manifest.get("text_column")
        self.id_column: str | None = self.manifest.get("id_column")
        #: batches split into this many parts scored at once (see :meth:`_predict_proba`)
        self.threads = max(1, int(threads or 1))
        self._pool: Any = None
        if self.negative not in self.classes and self.positive not in self.classes:
            raise BundleError(f"bundle classes {self.classes} contain neither {self.negative!r} nor {self.positive!r}")

    def scores(self, proba: np.ndarray) -> np.ndarray:
        """Probability of 'not benign' (positive/malicious), also right for multi-class bad subtypes."""
        if self.negative in self.classes:
            return 1.0 - proba[:, self.classes.index(self.negative)]
        return proba[:, self.classes.index(self.positive)]

    def labels(self, proba: np.ndarray, scores: np.ndarray) -> list[str]:
        if self.tagger is not None:
            return [hits[0][0] if hits else self.negative for hits in self.tagger.above_threshold(proba)]
        threshold = 0.5 if self.threshold is None else float(self.threshold)
        if self.negative not in self.classes:
            return [
                self.positive if s >= threshold else self.classes[int(np.argmax(p))]
                for p, s in zip(proba, scores, strict=True)
            ]
        neg = self.classes.index(self.negative)
        masked = proba.copy()
        masked[:, neg] = -1.0
        best_bad = masked.argmax(axis=1)
        pairs = zip(best_bad, scores, strict=True)
        return [self.classes[b] if s >= threshold else self.negative for b, s in pairs]

    def score_batch(self, texts: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Scores, thresholded labels and the full class probabilities of raw texts."""
        if not texts:  # an empty batch is a valid request, not a model call
            return np.zeros(0), [], np.zeros((0, len(self.classes)))
        prepared = [self.preprocess(t[: self.max_chars]) for t in texts]
        proba = self._predict_proba(prepared)
        s = self.scores(proba)
        return s, self.labels(proba, s), proba

    def _predict_proba(self, prepared: list[str]) -> np.ndarray:
        """``predict_proba``, split into ``threads`` parts scored at once when the batch is big enough.

        ONNX Runtime and torch release the GIL while they compute, so parts run on separate cores; each
        part is scored exactly as it would be alone (row results do not depend on their neighbours).
        """
        n_parts = min(self.threads, len(prepared) // MIN_ROWS_PER_THREAD)
        if n_parts <= 1 or getattr(self.model, "parallel_runs", 1) > 1:  # ONNX runs its chunks in parallel itself
            return np.asarray(self.model.predict_proba(prepared))
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="distilsec-score")
        bounds = np.linspace(0, len(prepared), n_parts + 1).astype(int)
        parts = [prepared[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return np.concatenate([np.asarray(p) for p in self._pool.map(self.model.predict_proba, parts)])

    def score_texts(self, texts: list[str]) -> tuple[np.ndarray, list[str]]:
        s, labels, _ = self.score_batch(texts)
        return s, labels
