"""Model bundles never execute code when loaded."""

from __future__ import annotations

import json
import pickle

import pytest

from distilsec.bundle import load_model, read_manifest, update_manifest
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
