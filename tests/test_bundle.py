"""Model bundles never execute code when loaded."""

from __future__ import annotations

import json
import pickle

import pytest

from distilsec.bundle import RUN_TYPE, load_model, read_manifest, update_manifest
from distilsec.errors import BundleError
from distilsec.students import HashedLinearStudent


@pytest.fixture
def bundle(tmp_path, tiny_texts):
    texts, y, _ = tiny_texts
    return HashedLinearStudent(n_features=2**10, epochs=1).fit(texts, y).save(tmp_path / "b")


def test_bundle_with_a_pickle_is_refused(bundle):
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    (bundle / "extra.pkl").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(BundleError, match="pickle"):
        load_model(bundle)


def test_pytorch_bin_is_refused(bundle):
    (bundle / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(BundleError, match="pickle"):
        load_model(bundle)


def test_missing_and_malformed_manifests(tmp_path, bundle):
    with pytest.raises(BundleError, match="not found"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="manifest.json is missing"):
        load_model(tmp_path / "empty")
    (bundle / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        read_manifest(bundle)


def test_unknown_type_is_a_clear_error(bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    m["type"] = "evil.v1"
    (bundle / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(Exception, match="unknown model type 'evil.v1'"):
        load_model(bundle)


def test_update_manifest_keeps_model_loadable(bundle, tiny_texts):
    update_manifest(bundle, threshold=0.7, preprocess="cmdline")
    assert read_manifest(bundle)["threshold"] == 0.7
    assert load_model(bundle).predict_proba(tiny_texts[0][:2]).shape == (2, 2)


RUN_FIELDS = {
    "threshold": 0.7,
    "target_fpr": 0.001,
    "positive": "malicious",
    "negative": "benign",
    "preprocess": "cmdline",
    "max_text_chars": 4096,
    "text_column": None,
    "role": "distilled student",
    "task": "cmdline",
    "data_fingerprint": "abc",
    "metrics": {"auc": 0.9},
}


def test_save_with_extra_writes_the_same_manifest_as_save_then_update_manifest(tmp_path, tiny_texts):
    """The manifest is complete when save() returns: no patching after (issue 12)."""
    texts, y, _ = tiny_texts
    model = HashedLinearStudent(n_features=2**10, epochs=1).fit(texts, y)
    patched = model.save(tmp_path / "patched")
    update_manifest(patched, **RUN_FIELDS)
    complete = model.save(tmp_path / "complete", extra=RUN_FIELDS)
    assert (complete / "manifest.json").read_bytes() == (patched / "manifest.json").read_bytes()
    assert load_model(complete).predict_proba(texts[:2]).shape == (2, 2)


def test_save_extra_with_a_key_no_manifest_holds_is_refused(tmp_path, tiny_texts):
    texts, y, _ = tiny_texts
    model = HashedLinearStudent(n_features=2**10, epochs=1).fit(texts, y)
    with pytest.raises(BundleError, match="treshold"):
        model.save(tmp_path / "b", extra={"treshold": 0.5})


def test_load_model_follows_a_run_folders_shipped_pointer(tmp_path, bundle):
    run = bundle.parent
    (run / "manifest.json").write_text(json.dumps({"type": RUN_TYPE, "shipped": bundle.name}))
    assert load_model(run).classes_ == load_model(bundle).classes_
    for bad in ("../elsewhere", ".hidden", "a/b", "a\\b", ""):
        (run / "manifest.json").write_text(json.dumps({"type": RUN_TYPE, "shipped": bad}))
        with pytest.raises(BundleError, match="'shipped' must name a bundle folder inside the run"):
            load_model(run)


def test_every_builtin_model_takes_the_run_fields_at_save():
    """``save(path, extra=...)`` is part of the contract: the run never patches a manifest after save."""
    import inspect

    from distilsec.registry import BUILTINS, get_factory

    for name in BUILTINS:
        assert "extra" in inspect.signature(get_factory(name).save).parameters, name
