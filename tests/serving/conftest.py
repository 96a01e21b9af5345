"""Tiny trained student bundles (char-CNN and hashed linear), exported to ONNX once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from distilsec.bundle import update_manifest
from tests.conftest import make_texts

pytest.importorskip("onnxruntime", reason="the 'onnx' extra (onnx, onnxruntime, onnxscript) is not installed")


def _train(kind: str, path: Path) -> Path:
    from distilsec.students import CharCNNStudent, HashedLinearStudent

    texts, y, _ = make_texts(160, seed=1)
    if kind == "char_cnn":
        student = CharCNNStudent(
            max_len=64, embedding_dim=8, n_filters=8, hidden_dims=[16], epochs=3, batch_size=32, device="cpu"
        )
    else:
        student = HashedLinearStudent(n_features=2**12, epochs=3)
    bundle = student.fit(texts, y).save(path)
    update_manifest(bundle, threshold=0.5, preprocess="cmdline", positive="malicious", negative="benign")
    return bundle


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"char_cnn": bundle, "hashed_linear": bundle}, each with model.onnx and model.int8.onnx."""
    from distilsec.serving.export import export_onnx

    root = tmp_path_factory.mktemp("exported")
    texts, _, _ = make_texts(200, seed=2)
    out = {}
    for kind in ("char_cnn", "hashed_linear"):
        bundle = _train(kind, root / kind)
        export_onnx(bundle, validation_texts=texts, int8=True)
        out[kind] = bundle
    return out


@pytest.fixture
def bundle_copy(exported: dict[str, Path], tmp_path: Path):
    """A writable copy of an exported bundle (tests that tamper with files use it)."""

    def copy(kind: str) -> Path:
        dst = tmp_path / kind
        shutil.copytree(exported[kind], dst)
        return dst

    return copy
