"""The inspector/master HTML student: its featuriser and what it learns on tiny generated pages."""

from __future__ import annotations

import re

import numpy as np
import pytest

from distilsec._internal.tokens import TOKEN_PATTERN
from distilsec.students import HTMLInspectorStudent
from distilsec.students.html_inspector import _token_hashes, token_chunk_counts

ODD = ["", "<<<>>>", "\x00\x01\xff", "\ud800 lone surrogate", "日本語 ページ", "A" * 300_000, "<p>" * 50_000]


def _pages(n: int = 60, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    words = ["news", "article", "today", "weather", "sport", "market", "city", "review", "photo", "story"]
    texts, labels = [], []
    for i in range(n):
        body = " ".join(rng.choice(words, size=int(rng.integers(20, 80))))
        if i % 2:
            form = '<form action="login.php" method="post"><input type="password" name="pass"></form>'
            texts.append(f"<html><title>Verify account</title><body>{body}{form}</body></html>")
            labels.append("phishing")
        else:
            texts.append(f"<html><title>Daily {rng.integers(99)}</title><body><p>{body}</p></body></html>")
            labels.append("benign")
    return texts, labels


@pytest.mark.parametrize(
    "text", ["", "a", "Hello, World! x_1 2.5", "日本語 テキスト é-è", "<a href='x'>y</a>" * 3, *ODD]
)
def test_tokens_are_the_regex_tokens(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    expected = re.findall(TOKEN_PATTERN, data.decode("utf-8", "replace").replace("\ufffd", "\u00e9"))
    assert len(_token_hashes(data)) == len(expected)


def test_token_hash_is_position_independent_and_case_folded() -> None:
    a = _token_hashes(b"password")
    b = _token_hashes(b"<input type=PassWord>")
    assert a[0] == b[2]
    assert len(set(_token_hashes(b"ab ba aab abb").tolist())) == 4


def test_chunk_counts_add_up() -> None:
    texts = ["one two three four five six seven eight", "", "x " * 1000]
    x = token_chunk_counts(texts, n_features=32, n_chunks=4, max_bytes=10_000)
    assert x.shape == (3, 128)
    assert x[0].sum() == 8 and x[1].sum() == 0 and x[2].sum() == 1000
    per_chunk = np.asarray(x[0].todense()).reshape(4, 32).sum(axis=1)
    assert per_chunk.tolist() == [2, 2, 2, 2]  # tokens are spread over chunks by position


def test_max_bytes_bounds_what_is_read() -> None:
    x = token_chunk_counts(["ab " * 1_000_000], n_features=16, n_chunks=2, max_bytes=3_000)
    assert x.sum() == 1000


def test_learns_tiny_pages_and_is_deterministic() -> None:
    texts, y = _pages()
    kw = {"n_features": 128, "n_chunks": 4, "hidden_dim": 16, "epochs": 15, "batch_size": 16, "device": "cpu"}
    model = HTMLInspectorStudent(**kw).fit(texts, y)
    assert (model.predict(texts) == np.array(y)).mean() > 0.9
    again = HTMLInspectorStudent(**kw).fit(texts, y)
    np.testing.assert_allclose(model.predict_proba(texts), again.predict_proba(texts), atol=1e-6)
    assert model.n_parameters < 10_000
    proba = model.predict_proba(ODD)
    assert proba.shape == (len(ODD), 2) and np.isfinite(proba).all()


def test_default_size_is_tens_of_thousands_of_parameters() -> None:
    texts, y = _pages(8)
    model = HTMLInspectorStudent(epochs=1, device="cpu").fit(texts, y)
    assert 10_000 < model.n_parameters < 100_000


def test_n_chunks_must_be_a_power_of_two() -> None:
    texts, y = _pages(8)
    with pytest.raises(ValueError, match="power of two"):
        HTMLInspectorStudent(n_chunks=12, epochs=1, device="cpu").fit(texts, y)


def test_binary_features_and_large_batches() -> None:
    texts, y = _pages(40)
    model = HTMLInspectorStudent(n_features=64, n_chunks=2, binary=True, epochs=2, device="cpu").fit(texts, y)
    proba = model.predict_proba(texts * 8)  # more than one featurisation slice
    assert proba.shape == (320, 2)
    np.testing.assert_allclose(proba[:40], proba[40:80])


def test_ten_training_steps_do_not_divide_by_zero() -> None:
    """OneCycleLR's warm-up phase is 0.1 * 10 - 1 = 0 steps long at exactly ten steps (a division by zero)."""
    texts, y = _pages(20)
    model = HTMLInspectorStudent(n_features=32, n_chunks=2, hidden_dim=4, epochs=5, batch_size=10, device="cpu")
    assert len(model.fit(texts, y).history_) == 5
