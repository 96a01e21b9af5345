"""Serving imports no training code (issue 12): loading a bundle to score it imports that model alone.

Each check runs in a fresh interpreter, because this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_texts

#: What scoring a char-CNN bundle must never import: training code, teachers, the LLM stack, the ledger.
TRAINING_ONLY = (
    "distilsec.teachers",
    "distilsec.methods",
    "distilsec.pipeline",
    "distilsec.evaluation",
    "distilsec.students._torch_training",
    "distilsec.students.html_inspector",
    "distilsec.students.cve_model",
    "transformers",
    "llama_cpp",
    "sqlite3",
)


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


@pytest.fixture(scope="module")
def char_cnn_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from distilsec.students import CharCNNStudent

    texts, y, _ = make_texts(40, seed=3)
    student = CharCNNStudent(max_len=32, embedding_dim=4, n_filters=4, hidden_dims=[8], epochs=1, device="cpu")
    extra = {"threshold": 0.5, "preprocess": "cmdline", "positive": "malicious", "negative": "benign"}
    return student.fit(texts, y).save(tmp_path_factory.mktemp("cnn") / "bundle", extra=extra)


def test_loading_a_char_cnn_bundle_imports_no_training_code(char_cnn_bundle):
    loaded = _modules_after(f"from distilsec.bundle import load_model; load_model({str(char_cnn_bundle)!r})")
    assert "distilsec.students.char_cnn" in loaded and "torch" in loaded
    assert not {m for m in loaded if m.startswith(TRAINING_ONLY)}


def test_scoring_a_char_cnn_bundle_natively_imports_no_training_code(char_cnn_bundle):
    code = (
        "from distilsec.serving.scoring import ScoringModel\n"
        f"m = ScoringModel({str(char_cnn_bundle)!r}, runtime='native')\n"
        "assert len(m.score_texts(['certutil -urlcache x'])[1]) == 1"
    )
    loaded = _modules_after(code)
    assert not {m for m in loaded if m.startswith(TRAINING_ONLY)}


def test_score_help_imports_no_model_framework():
    code = (
        "import sys; sys.argv = ['distilsec', 'score', '--help']\n"
        "from distilsec.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    loaded = _modules_after(code)
    assert not loaded & {"torch", "sklearn", "scipy", "transformers", "llama_cpp", "sqlite3"}


def test_serving_modules_import_no_training_code():
    code = "\n".join(
        f"import {m}"
        for m in (
            "distilsec.serving.scoring",
            "distilsec.serving.model",
            "distilsec.serving.sinks",
            "distilsec.serving.runtime.parallel",
            "distilsec.serving.runtime.features",
            "distilsec.data.readers.events",
        )
    )
    loaded = _modules_after(code)
    assert not {m for m in loaded if m.startswith(TRAINING_ONLY)}
    assert not loaded & {"torch", "sklearn", "scipy"}
    # reading event files does not import every upstream format's reader (requests, tldextract, yaml)
    assert not {m for m in loaded if m.startswith("distilsec.data.readers.") and not m.endswith(".events")} - {
        "distilsec.data.readers._common"
    }


def test_a_saved_bundle_manifest_is_complete_when_save_returns(char_cnn_bundle):
    manifest = json.loads((char_cnn_bundle / "manifest.json").read_text())
    assert manifest["threshold"] == 0.5 and manifest["preprocess"] == "cmdline"
    assert manifest["type"] == "char_cnn.v1" and manifest["n_parameters"] > 0


def test_serving_and_training_share_one_text_cleaning_and_byte_encoding():
    from distilsec.data.text import clean_text
    from distilsec.serving.runtime import features
    from distilsec.students import _bytes, base

    assert features.clean_text is clean_text and base._clean is clean_text
    assert features.byte_ids is _bytes.byte_ids
    texts = ["a\ud800b", "ok", "é" * 40, ""]
    cleaned = [clean_text(t) for t in texts]
    assert (_bytes.encode_bytes(cleaned, 16) == _bytes.byte_ids(cleaned, 16)).all()


def test_not_fitted_error_keeps_sklearns_bases_without_importing_sklearn():
    code = (
        "from distilsec.errors import DistilsecError, NotFittedError\n"
        "assert issubclass(NotFittedError, (ValueError, AttributeError, DistilsecError))\n"
        "assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)"
    )
    assert "sklearn" not in _modules_after(code)


def test_parallel_scoring_does_not_import_the_model_layer():
    """runtime.parallel <-> scoring was an import cycle: workers now get the scoring class from the parent."""
    loaded = _modules_after("import distilsec.serving.runtime.parallel")
    assert not {"distilsec.serving.model", "distilsec.serving.scoring"} & loaded
