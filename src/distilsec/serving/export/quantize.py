"""Dynamic int8 quantisation of an exported graph (ONNX Runtime), weights int8, activations per batch.

By default Conv is left in float: ONNX Runtime's ConvInteger CPU kernel was about 3x *slower* than the
float Conv for the char-CNN's small convolutions (see docs/benchmarks/deployment.md), while MatMul/Gemm
and the embedding/weight Gather quantise well. ``op_types=("all",)`` quantises everything it can.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

__all__ = ["quantize_int8", "DEFAULT_INT8_OPS"]

DEFAULT_INT8_OPS = ("MatMul", "Gemm", "Gather")


def quantize_int8(src: Path, dst: Path, op_types: Sequence[str] = DEFAULT_INT8_OPS) -> None:
    """Write an int8 (weights) copy of ``src`` to ``dst`` with ``onnxruntime.quantization.quantize_dynamic``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ops = None if list(op_types) == ["all"] else list(op_types)
    # It logs "run pre-processing first" on the root logger; that advice concerns static quantisation.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(src, dst, op_types_to_quantize=ops, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
