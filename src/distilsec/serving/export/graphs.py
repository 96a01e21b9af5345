"""ONNX graphs of the students: traced from torch (char-CNN) or written by hand (hashed linear).

Both graphs output ``proba`` (n, n_classes) with columns in the bundle's ``classes`` order and take a
dynamic batch. What runs *inside* ONNX, honestly:

* char-CNN: everything after UTF-8 encoding: byte ids (n, L) with dynamic L -> embedding -> convolutions
  -> pooling -> dense layers -> softmax. Encoding text to byte ids is numpy
  (:func:`distilsec.serving.runtime.features.byte_ids`).
* hashed linear: the sparse linear layer and softmax. Hashing character n-grams stays in scikit-learn's
  HashingVectorizer (skl2onnx has no converter for it; ONNX has no n-gram hashing operator), whose
  output reaches the graph as coordinates (indices, values, rows).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["char_cnn_graph", "hashed_linear_graph", "OPSET"]

OPSET = 18


def char_cnn_graph(student: Any, path: Path) -> None:
    """Export a fitted CharCNNStudent to ``path`` with the torch.onnx dynamo exporter (one file)."""
    import torch

    class _WithSoftmax(torch.nn.Module):
        def __init__(self, module: torch.nn.Module) -> None:
            super().__init__()
            self.module = module

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.module(ids), dim=1)

    # eval() on the wrapper *and* the module: a train-mode wrapper would export with dropout on.
    student.module_.eval()
    wrapper = _WithSoftmax(student.module_).eval()
    example = torch.ones((3, 17), dtype=torch.int64)  # sizes other than 0/1, so torch.export keeps them dynamic
    batch = torch.export.Dim("batch")
    length = torch.export.Dim("length", min=2, max=1 << 20)
    for name in ("torch.onnx", "torch.export", "torch._export"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (example,),
            str(path),
            dynamo=True,
            external_data=False,
            verbose=False,
            input_names=["ids"],
            output_names=["proba"],
            dynamic_shapes={"ids": {0: batch, 1: length}},
            opset_version=OPSET,
        )


def hashed_linear_graph(student: Any, path: Path) -> None:
    """Write the linear layer of a fitted HashedLinearStudent as an ONNX graph over sparse coordinates.

    Inputs: ``indices`` (nnz,) hashed bucket ids, ``values`` (nnz,) feature values, ``rows`` (nnz,) text
    index of each non-zero, ``n_rows`` (1,) number of texts. The graph gathers the weight rows of the
    non-zero buckets, scales them, sums them per text (ScatterND with add) and applies bias and softmax,
    i.e. ``softmax(X @ coef + intercept)`` without ever building the dense (n, n_features) matrix.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    coef = np.ascontiguousarray(student.coef_, dtype=np.float32)
    n_classes = coef.shape[1]
    inits = [
        numpy_helper.from_array(coef, "coef"),
        numpy_helper.from_array(np.asarray(student.intercept_, dtype=np.float32), "intercept"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([n_classes], dtype=np.int64), "n_classes"),
    ]
    nodes = [
        helper.make_node("Gather", ["coef", "indices"], ["w_rows"], axis=0),
        helper.make_node("Unsqueeze", ["values", "axis1"], ["values_col"]),
        helper.make_node("Mul", ["w_rows", "values_col"], ["contrib"]),
        helper.make_node("Unsqueeze", ["rows", "axis1"], ["rows_col"]),
        helper.make_node("Concat", ["n_rows", "n_classes"], ["out_shape"], axis=0),
        helper.make_node(
            "ConstantOfShape", ["out_shape"], ["zeros"], value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
        ),
        helper.make_node("ScatterND", ["zeros", "rows_col", "contrib"], ["scores"], reduction="add"),
        helper.make_node("Add", ["scores", "intercept"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["proba"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "hashed_linear",
        [
            helper.make_tensor_value_info("indices", TensorProto.INT64, ["nnz"]),
            helper.make_tensor_value_info("values", TensorProto.FLOAT, ["nnz"]),
            helper.make_tensor_value_info("rows", TensorProto.INT64, ["nnz"]),
            helper.make_tensor_value_info("n_rows", TensorProto.INT64, [1]),
        ],
        [helper.make_tensor_value_info("proba", TensorProto.FLOAT, ["batch", n_classes])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="distilsec")
    model.ir_version = 8  # readable by onnxruntime >= 1.10
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
