"""The frozen-encoder teacher: the per-process embedding cache, the head, and its bundle (on a tiny BERT)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import distilsec.teachers.embedding_linear as el
from distilsec.bundle import WEIGHTS, load_model
from distilsec.errors import BundleError
from distilsec.teachers.embedding_linear import EmbeddingLinearTeacher, clear_embedding_cache, embed_texts

TEXTS = ["powershell ran encoded commands", "the loader downloaded files", "we thank our reviewers"]


class CountingEncoder:
    """Wraps the encoder and counts the texts it embeds (rows of every batch it is called with)."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.texts = 0
        self.calls = 0

    def __call__(self, **enc):
        self.calls += 1
        self.texts += int(enc["input_ids"].shape[0])
        return self.encoder(**enc)

    def __getattr__(self, name: str):
        return getattr(self.encoder, name)  # parameters() and the rest: the wrapped encoder's


@pytest.fixture
def counting(tiny_bert, monkeypatch):
    """The tiny BERT's encoder wrapped in a counter; the cache starts empty and is left empty."""
    tokenizer, encoder = el._encoder(str(tiny_bert))
    counter = CountingEncoder(encoder)
    monkeypatch.setitem(el._ENCODERS, str(tiny_bert), (tokenizer, counter))
    clear_embedding_cache()
    yield counter
    clear_embedding_cache()


def test_a_second_call_embeds_nothing_new(tiny_bert, counting):
    model = str(tiny_bert)
    first = embed_texts([*TEXTS, TEXTS[0]], model, max_length=32)
    assert counting.texts == 3  # the repeated text is embedded once
    assert first.shape == (4, 32) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(first[0], first[3])
    again = embed_texts(list(reversed(TEXTS)), model, max_length=32)
    assert counting.texts == 3 and counting.calls == 1  # all read from the cache, in the order asked
    np.testing.assert_array_equal(again, first[[2, 1, 0]])
    embed_texts([TEXTS[1], "a new sentence"], model, max_length=32)
    assert counting.texts == 4  # only the new one
    embed_texts(TEXTS[:1], model, max_length=16)
    assert counting.texts == 5  # another max_length is another cache


def test_cached_embeddings_equal_fresh_ones_whatever_the_batch(tiny_bert, counting):
    model = str(tiny_bert)
    together = embed_texts(TEXTS, model, max_length=32, batch_size=2)
    clear_embedding_cache()
    alone = np.stack([embed_texts([t], model, max_length=32)[0] for t in TEXTS])
    assert counting.texts == 6  # cleared: everything embedded again
    np.testing.assert_allclose(together, alone, atol=1e-5)  # padding in a batch does not change a text's vector


def test_no_texts_give_an_empty_matrix_of_the_encoders_width_even_with_an_empty_cache(tiny_bert, counting):
    """Regression: with nothing cached, no texts gave a (0, 0) matrix, so a loaded teacher's
    ``predict_proba([])`` failed in the matrix product instead of giving (0, n_classes)."""
    assert embed_texts([], str(tiny_bert), max_length=32).shape == (0, 32)
    embed_texts(TEXTS[:1], str(tiny_bert), max_length=32)
    assert embed_texts([], str(tiny_bert), max_length=32).shape == (0, 32)
    assert counting.texts == 1


def _labels() -> tuple[list[str], list[str]]:
    texts = [f"{t} {i}" for i in range(6) for t in TEXTS]
    return texts, [lab for _ in range(6) for lab in ("T1059.001", "T1105", "none")]


def _teacher(tiny_bert) -> EmbeddingLinearTeacher:
    return EmbeddingLinearTeacher(model=str(tiny_bert), max_length=32, epochs=15, batch_size=32, lr=0.05)


@pytest.fixture
def fitted(tiny_bert, counting):
    return _teacher(tiny_bert).fit(*_labels())


def test_fit_reuses_the_cache_and_is_deterministic(tiny_bert, counting, fitted):
    texts, labels = _labels()
    embedded = counting.texts
    again = _teacher(tiny_bert).fit(texts, labels)
    assert counting.texts == embedded  # a refit (a cross-fitting fold) embeds nothing new
    np.testing.assert_array_equal(again.coef_, fitted.coef_)
    proba = fitted.predict_proba(texts)
    assert proba.shape == (18, 3) and fitted.classes_ == ["T1059.001", "T1105", "none"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (fitted.predict(texts) == np.array(labels)).mean() > 0.9  # three texts apart: the head separates them
    encoder_params = sum(p.numel() for p in counting.encoder.parameters())
    assert fitted.n_parameters == 32 * 3 + 3 + encoder_params


def test_save_and_load_round_trip(fitted, tmp_path):
    path = fitted.save(tmp_path / "teacher")
    clear_embedding_cache()  # as in a new process
    loaded = load_model(path)
    assert loaded.predict_proba([]).shape == (0, 3)
    assert isinstance(loaded, EmbeddingLinearTeacher) and loaded.classes_ == fitted.classes_
    assert sorted(load_file(str(path / WEIGHTS))) == ["coef", "intercept"]  # the head only, not the encoder
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), fitted.predict_proba(TEXTS), rtol=1e-5)


def test_a_head_that_does_not_match_the_classes_is_a_bundle_error(fitted, tmp_path):
    path = fitted.save(tmp_path / "teacher")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["classes"] = ["T1059.001", "none"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="'coef' has shape"):
        load_model(path)


def test_a_one_dimensional_coef_is_a_bundle_error(fitted, tmp_path):
    path = fitted.save(tmp_path / "teacher")
    tensors = load_file(str(path / WEIGHTS))
    tensors["coef"] = tensors["coef"].ravel().copy()
    save_file(tensors, str(path / WEIGHTS))
    with pytest.raises(BundleError, match="'coef' has shape"):
        load_model(path)
