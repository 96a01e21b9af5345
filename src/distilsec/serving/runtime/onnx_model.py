"""A student exported to ONNX, run by ONNX Runtime: the same ``predict_proba`` with no torch at all.

Loading reads ``manifest.json`` (JSON) and the ``.onnx`` file (a protobuf of tensors and standard
operators): neither can execute code. The file is handed to ONNX Runtime as bytes, so it cannot pull
in "external data" files from elsewhere on disk either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.bundle import check_no_pickle, read_manifest
from distilsec.errors import BundleError, DistilsecError
from distilsec.serving.runtime.features import HashedFeatures, byte_ids, clean_text

__all__ = ["OnnxModel", "ONNX_FILES", "onnx_file", "require_onnxruntime"]

#: precision -> file name inside a bundle
ONNX_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
#: student types an ONNX graph exists for, and the graph's input kind
SUPPORTED = {"char_cnn.v1": "byte_ids", "hashed_linear.v1": "hashed_ngrams"}


def require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise DistilsecError(
            "the ONNX runtime needs the 'onnx' extra: pip install 'distilsec[onnx]' (onnxruntime)"
        ) from None
    return onnxruntime


def onnx_file(bundle_dir: str | Path, precision: str = "fp32") -> Path:
    if precision not in ONNX_FILES:
        raise DistilsecError(f"ONNX precision must be one of {sorted(ONNX_FILES)}, not {precision!r}")
    return Path(bundle_dir) / ONNX_FILES[precision]


class OnnxModel:
    """``predict_proba`` of an exported student through ONNX Runtime (CPU).

    Parameters
    ----------
    bundle_dir : bundle folder holding ``manifest.json`` and ``model.onnx`` / ``model.int8.onnx``.
    precision : "fp32" or "int8".
    threads : ONNX Runtime intra-op threads (1 = one core; several processes scale better than threads
        for these small graphs).
    parallel_runs : graph runs (chunks of a batch) in flight at once, each on its own thread. The Python
        side (featurising) is done first for the whole batch, so the threads only run the graph, which
        releases the GIL: Python threads that interleave Python work with graph runs wait on each other
        for the GIL and were slower than one thread.

    Attributes
    ----------
    classes_ : class names, the column order of ``predict_proba`` (from the manifest).
    """

    def __init__(
        self, bundle_dir: str | Path, precision: str = "fp32", threads: int = 1, parallel_runs: int = 1
    ) -> None:
        ort = require_onnxruntime()
        self.parallel_runs = max(1, int(parallel_runs))
        self._pool: Any = None
        self.bundle_dir = Path(bundle_dir)
        self.precision = precision
        self.manifest = read_manifest(bundle_dir)
        check_no_pickle(bundle_dir)
        kind = SUPPORTED.get(self.manifest["type"])
        if kind is None:
            raise BundleError(f"no ONNX graph for model type {self.manifest['type']!r}; supported: {sorted(SUPPORTED)}")
        path = onnx_file(bundle_dir, precision)
        if not path.is_file():
            raise BundleError(f"{path} not found: run `distilsec export {bundle_dir}` first")
        self.classes_ = list(self.manifest["classes"])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(path.read_bytes(), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise BundleError(f"{path} is not a loadable ONNX model: {exc}") from None
        params = self.manifest.get("params", {})
        self._featurise: Callable[[list[str]], dict[str, np.ndarray]]
        self._length_buckets = False
        if kind == "byte_ids":
            max_len = int(params.get("max_len", 200))
            trim = params.get("pooling", "max") == "max"
            self._length_buckets = trim
            self._featurise = lambda texts: {"ids": byte_ids(texts, max_len, trim=trim)}
        else:
            self._featurise = HashedFeatures(params)
        self.input_kind = kind

    def predict_proba(self, texts: Sequence[str], batch_size: int = 1024) -> np.ndarray:
        """(n, n_classes) probabilities, columns in ``classes_`` order.

        For a max-pooling char-CNN, texts are scored in runs of similar length (sorted, 256 at a time),
        each padded only to its own longest text + 1: exact (see :func:`byte_ids`), and a batch of short
        URLs no longer pays for the longest one.
        """
        if isinstance(texts, str):
            raise DistilsecError("expected a sequence of texts, got a single string")
        cleaned = [clean_text(t) for t in texts]
        out = np.zeros((len(cleaned), len(self.classes_)), dtype=np.float64)
        chunks: list[Any] = []  # (rows of ``out``, graph inputs)
        if self._length_buckets:
            order = np.argsort(np.fromiter(map(len, cleaned), dtype=np.int64, count=len(cleaned)), kind="stable")
            for start in range(0, len(order), 256):
                rows = order[start : start + 256]
                chunks.append((rows, self._featurise([cleaned[i] for i in rows])))
        else:
            for start in range(0, len(cleaned), batch_size):
                chunk = cleaned[start : start + batch_size]
                chunks.append((slice(start, start + len(chunk)), self._featurise(chunk)))
        for (rows, _), proba in zip(chunks, self._run_all([feed for _, feed in chunks]), strict=True):
            out[rows] = proba
        return out

    def _run_all(self, feeds: list[dict[str, np.ndarray]]) -> Iterator[np.ndarray]:
        """The graph's output for every feed, in order; ``parallel_runs`` at a time on their own threads."""
        if self.parallel_runs <= 1 or len(feeds) <= 1:
            return (self.session.run(["proba"], feed)[0] for feed in feeds)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.parallel_runs, thread_name_prefix="distilsec-onnx")
        return self._pool.map(lambda feed: self.session.run(["proba"], feed)[0], feeds)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.classes_)[self.predict_proba(texts).argmax(axis=1)]
