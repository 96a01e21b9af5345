"""Which engine runs a bundle's model: its own framework (torch/sklearn) or ONNX Runtime.

``auto`` takes ``model.onnx`` when the bundle has one (``distilsec export`` wrote it and checked its
parity) and the native model otherwise, so ``distilsec score`` and ``distilsec serve`` on the same
bundle always run the same engine and return the same scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distilsec.errors import DistilsecError

__all__ = ["RUNTIMES", "resolve_runtime", "load_runtime_model"]

RUNTIMES = ("auto", "native", "torch", "onnx", "onnx-int8")


def resolve_runtime(bundle_dir: str | Path, runtime: str = "auto") -> str:
    """The concrete runtime ("native", "onnx" or "onnx-int8") for a bundle and a requested one."""
    if runtime not in RUNTIMES:
        raise DistilsecError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if runtime == "torch":  # torch students and sklearn-featurised ones alike: the bundle's own code
        return "native"
    if runtime == "auto":
        return "onnx" if (Path(bundle_dir) / "model.onnx").is_file() else "native"
    return runtime


def load_runtime_model(bundle_dir: str | Path, runtime: str = "auto", threads: int | None = None) -> tuple[Any, str]:
    """(model with ``classes_`` and ``predict_proba``, concrete runtime name)."""
    concrete = resolve_runtime(bundle_dir, runtime)
    if concrete == "native":
        from distilsec.bundle import load_model
        from distilsec.errors import BundleError

        if not any(Path(bundle_dir).glob("*.safetensors")) and (Path(bundle_dir) / "model.onnx").is_file():
            raise BundleError(f"{bundle_dir} is an ONNX-only bundle (no safetensors weights): use runtime onnx")

        if threads:
            import torch

            torch.set_num_threads(int(threads))
        return load_model(bundle_dir), concrete
    from distilsec.runtime.onnx_model import OnnxModel

    precision = "int8" if concrete == "onnx-int8" else "fp32"
    return OnnxModel(bundle_dir, precision=precision, threads=threads or 1), concrete
