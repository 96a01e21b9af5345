"""The hashed n-gram embedding student: its features, determinism, distillation, and its bundle's checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from distilsec.bundle import WEIGHTS, load_model
from distilsec.errors import BundleError, DataError
from distilsec.students.base import SoftTargets
from distilsec.students.ngram_embedding import NgramEmbeddingStudent

SMALL = {"n_buckets": 1024, "dim": 8, "epochs": 15, "batch_size": 16, "lr": 0.05, "dropout": 0.0}

ALPHA = ["powershell ran encoded commands", "the powershell script ran", "ran a powershell one-liner"]
BETA = ["downloaded a second stage", "the loader downloaded files", "files were downloaded over http"]


def _data(n: int = 8) -> tuple[list[str], list[str]]:
    texts = [f"{t} {i}" for i in range(n) for t in ALPHA + BETA]
    labels = [lab for _ in range(n) for lab in ["a"] * len(ALPHA) + ["b"] * len(BETA)]
    return texts, labels


def test_features_are_means_of_distinct_buckets_and_empty_text_is_all_zero():
    model = NgramEmbeddingStudent(n_buckets=512)
    x = model.features(["powershell ran encoded commands", "", "a a a a"])
    assert x.shape == (3, 512)
    sums = np.asarray(x.sum(axis=1)).ravel()
    np.testing.assert_allclose(sums, [1.0, 0.0, 1.0], rtol=1e-6)
    row = x[2].toarray().ravel()
    assert len(set(row[row > 0].round(6))) == 1  # repeats do not weigh more: every bucket present counts once
    assert model.features([]).shape == (0, 512)


def test_features_read_only_max_chars_and_need_some_ngrams():
    short = NgramEmbeddingStudent(n_buckets=512, max_chars=10)
    assert (short.features(["0123456789 extra words"]) != short.features(["0123456789"])).nnz == 0
    with pytest.raises(DataError, match="both off"):
        NgramEmbeddingStudent(word_ngrams=None, char_ngrams=None).features(["x"])


def test_fit_learns_separable_classes_and_is_deterministic():
    texts, labels = _data()
    a = NgramEmbeddingStudent(**SMALL).fit(texts, labels)
    b = NgramEmbeddingStudent(**SMALL).fit(texts, labels)
    assert list(a.predict(["powershell ran it", "downloaded it"])) == ["a", "b"]
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    np.testing.assert_array_equal(a.predict_proba(texts), b.predict_proba(texts))
    other = NgramEmbeddingStudent(**{**SMALL, "random_state": 1}).fit(texts, labels)
    assert not np.array_equal(a.embedding_, other.embedding_)
    assert len(a.history_) == SMALL["epochs"] and a.history_[-1] < a.history_[0]
    assert a.n_parameters == 1024 * 8 + 8 * 2 + 2


def test_soft_targets_are_followed_over_the_hard_labels():
    texts, labels = _data()
    wrong = ["a"] * len(texts)  # hard labels say "a" everywhere; the teacher knows the beta texts are "b"
    teacher = np.array([[0.05, 0.95] if lab == "b" else [0.95, 0.05] for lab in labels])
    soft = SoftTargets(teacher, temperature=1.0, alpha=1.0)
    distilled = NgramEmbeddingStudent(**SMALL).fit(texts, wrong, soft_targets=soft, classes=["a", "b"])
    hard = NgramEmbeddingStudent(**SMALL).fit(texts, wrong, classes=["a", "b"])
    probe = ["the loader downloaded a stage", "powershell ran commands"]
    assert list(distilled.predict(probe)) == ["b", "a"]
    assert list(hard.predict(probe)) == ["a", "a"]


def test_fit_refuses_an_empty_training_set():
    with pytest.raises(DataError, match="empty training set"):
        NgramEmbeddingStudent(**SMALL).fit([], [], classes=["a", "b"])


def test_an_empty_text_scores_as_the_bias_alone():
    texts, labels = _data(2)
    model = NgramEmbeddingStudent(**{**SMALL, "epochs": 2}).fit(texts, labels)
    z = model.decision_function([""])
    np.testing.assert_allclose(z[0], model.intercept_, rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(["", "x"]).sum(axis=1), 1.0, rtol=1e-6)


@pytest.fixture
def saved(tmp_path):
    texts, labels = _data(2)
    model = NgramEmbeddingStudent(**{**SMALL, "epochs": 2}).fit(texts, labels)
    return model, model.save(tmp_path / "ngram")


def test_save_and_load_round_trip(saved):
    model, path = saved
    loaded = load_model(path)
    assert isinstance(loaded, NgramEmbeddingStudent) and loaded.classes_ == ["a", "b"]
    texts = ["powershell ran it", "downloaded it", ""]
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), rtol=1e-6)


def test_weights_of_the_wrong_shape_are_a_bundle_error(saved):
    _, path = saved
    tensors = load_file(str(path / WEIGHTS))
    tensors["embedding"] = np.zeros((512, 8), dtype=np.float32)  # fewer buckets than the manifest says
    save_file(tensors, str(path / WEIGHTS))
    with pytest.raises(BundleError, match="'embedding' has shape"):
        load_model(path)


def test_a_manifest_that_disagrees_with_the_weights_is_a_bundle_error(saved):
    _, path = saved
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["classes"] = ["a", "b", "c"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="'coef' has shape"):
        load_model(path)


def test_a_missing_tensor_is_a_bundle_error(saved):
    _, path = saved
    tensors = load_file(str(path / WEIGHTS))
    del tensors["intercept"]
    save_file(tensors, str(path / WEIGHTS))
    with pytest.raises(BundleError, match="lacks tensors"):
        load_model(path)
