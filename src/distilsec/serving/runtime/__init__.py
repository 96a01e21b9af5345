"""Which engine runs a bundle's model: its own framework (torch/sklearn) or ONNX Runtime.

``auto`` takes ``model.onnx`` when the bundle has one (``distilsec export`` wrote it and checked its
parity; ``distilsec run`` exports every student it can) and ONNX Runtime is installed, and the native
model otherwise, so ``distilsec score`` and ``distilsec serve`` on the same bundle always run the same
engine and return the same scores. The ONNX path imports neither torch nor the model's class: a scoring
process starts in well under a second.

``threads`` is the number of batches scored at the same time, each on one intra-op thread: the graphs
are small, and two ONNX Runtime (or torch) threads splitting one small batch spend more time
synchronising than computing (``--threads 2`` was slower than 1), while two batches in flight keep two
cores busy.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from distilsec.errors import DistilsecError

__all__ = ["RUNTIMES", "resolve_runtime", "load_runtime_model", "has_onnxruntime"]

RUNTIMES = ("auto", "native", "torch", "onnx", "onnx-int8")


def resolve_runtime(bundle_dir: str | Path, runtime: str = "auto") -> str:
    """The concrete runtime ("native", "onnx" or "onnx-int8") for a bundle and a requested one."""
    if runtime not in RUNTIMES:
        raise DistilsecError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if runtime == "torch":  # torch students and sklearn-featurised ones alike: the bundle's own code
        return "native"
    if runtime == "auto":
        return "onnx" if (Path(bundle_dir) / "model.onnx").is_file() and has_onnxruntime() else "native"
    return runtime


def has_onnxruntime() -> bool:
    """Whether ONNX Runtime is installed (the 'onnx' extra), found without importing it."""
    return importlib.util.find_spec("onnxruntime") is not None


def load_runtime_model(bundle_dir: str | Path, runtime: str = "auto", threads: int | None = None) -> tuple[Any, str]:
    """(model with ``classes_`` and ``predict_proba``, concrete runtime name)."""
    concrete = resolve_runtime(bundle_dir, runtime)
    if concrete == "native":
        from distilsec.bundle import load_model
        from distilsec.errors import BundleError

        if not any(Path(bundle_dir).glob("*.safetensors")) and (Path(bundle_dir) / "model.onnx").is_file():
            raise BundleError(f"{bundle_dir} is an ONNX-only bundle (no safetensors weights): use runtime onnx")

        if threads:  # one intra-op thread per batch in flight (see the module docstring)
            from distilsec._internal.device import set_threads

            set_threads(1)
        return load_model(bundle_dir), concrete
    from distilsec.serving.runtime.onnx_model import OnnxModel

    precision = "int8" if concrete == "onnx-int8" else "fp32"
    return OnnxModel(bundle_dir, precision=precision, threads=1, parallel_runs=threads or 1), concrete
