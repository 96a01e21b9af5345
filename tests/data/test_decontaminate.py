"""Decontamination by MinHash LSH candidates + exact check removes exactly what the exact all-pairs check removes."""

from __future__ import annotations

import random

import numpy as np
import pytest

import distilsec.data.decontaminate as decontamination
from distilsec.data.curate import jaccard, shingles
from distilsec.data.decontaminate import (
    DECONTAMINATION_NUM_PERM,
    LSH_RECALL,
    BenchText,
    decontaminate,
    lsh_params,
    minhash_signatures,
    near_copies_of,
    new_cache,
    shingle_key,
)
from distilsec.data.example import Example
from distilsec.errors import ConfigError

WORDS = [
    "buffer",
    "overflow",
    "remote",
    "attacker",
    "arbitrary",
    "code",
    "via",
    "crafted",
    "request",
    "allows",
    "kernel",
]
THRESHOLD = 0.7


def _text(rng: random.Random, n: int = 40) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(n))


def _edit_towards(rng: random.Random, text: str, target: float) -> str:
    """Change one character at a time until the Jaccard with ``text`` drops just below ``target``."""
    base, cur = shingles(text), list(text)
    while True:
        prev = "".join(cur)
        cur[rng.randrange(len(cur))] = rng.choice("abcdefghijklmnopqrstuvwxyz")
        if jaccard(base, shingles("".join(cur))) < target:
            return prev  # the last text still at or above it; cur is the first below


def _dataset(seed: int) -> tuple[list[Example], list[BenchText]]:
    rng = random.Random(seed)
    bench = [BenchText(f"CVE-2024-{i:04d}", _text(rng), "gen.tsv") for i in range(60)]
    train: list[Example] = []
    for i, b in enumerate(bench[:40]):
        above = _edit_towards(rng, b.text, THRESHOLD)  # just above the threshold
        train.append(Example(above, "x", id=f"CVE-2019-{2 * i:04d}"))
        below = _edit_towards(rng, above, jaccard(shingles(b.text), shingles(above)) - 0.01)  # just below it
        train.append(Example(below, "x", id=f"CVE-2019-{2 * i + 1:04d}"))
    train += [Example(_text(rng), "x", id=f"CVE-2018-{i:04d}") for i in range(100)]
    train.append(Example("unrelated " + bench[45].text[:60], "x", id="CVE-2024-0050"))  # shared ID
    return train, bench


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lsh_path_removes_exactly_what_the_exact_all_pairs_path_removes(seed):
    train, bench = _dataset(seed)
    kept_lsh, rep_lsh = decontaminate(train, bench, threshold=THRESHOLD, method="lsh")
    kept_exact, rep_exact = decontaminate(train, bench, threshold=THRESHOLD, method="exact")
    assert rep_lsh["removed_ids"] == rep_exact["removed_ids"]
    assert [e.id for e in kept_lsh] == [e.id for e in kept_exact]
    assert rep_lsh["removed_examples"] == rep_exact["removed_examples"]
    # the data really straddles the threshold: pairs a hair above are removed, a hair below are kept
    sims = [jaccard(shingles(b.text), shingles(t.text)) for b, t in zip(bench, train[0:80:2], strict=False)]
    assert all(THRESHOLD <= s < THRESHOLD + 0.03 for s in sims)
    assert {t.id for t in train[0:80:2]} <= set(rep_lsh["removed_ids"])
    below = [t for t in train[1:80:2] if max(jaccard(shingles(t.text), shingles(b.text)) for b in bench) < THRESHOLD]
    assert len(below) >= 30 and not {t.id for t in below} & set(rep_lsh["removed_ids"])
    assert rep_lsh["after"] == {"shared_ids": 0, "near_duplicates": 0, "shared_ngrams": 0}


@pytest.mark.parametrize("threshold", [0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
def test_lsh_params_give_recall_about_one_at_the_threshold(threshold):
    bands, rows = lsh_params(threshold)
    assert 1 - (1 - threshold**rows) ** bands >= LSH_RECALL


def test_lsh_finds_every_pair_at_the_threshold_in_practice():
    rng = random.Random(7)
    bench = [_text(rng, 60) for _ in range(200)]
    queries = [_edit_towards(rng, b, THRESHOLD) for b in bench]
    found = near_copies_of(queries, bench, THRESHOLD, method="lsh")
    assert {i: j for i, (j, _) in found.items()} == {i: i for i in range(len(bench))}


def test_shared_cache_answers_repeated_checks_the_same():
    train, bench = _dataset(3)
    cache = new_cache()
    first = near_copies_of([e.text for e in train], [b.text for b in bench], THRESHOLD, cache=cache)
    again = near_copies_of([e.text for e in train[::-1]], [b.text for b in bench], THRESHOLD, cache=cache)
    n = len(train)
    assert {n - 1 - i: v for i, v in again.items()} == first


def test_unknown_decontamination_method_is_a_config_error():
    with pytest.raises(ConfigError, match="method"):
        near_copies_of(["a text"], ["a text"], THRESHOLD, method="approx")


# texts whose shingles are easy to get wrong: shorter than a shingle, whitespace runs, case changes that
# change the length ("İ".lower() is two characters), astral characters, a lone surrogate, NULs
TRICKY = [
    "",
    "a",
    "abcde",
    "abcdef",
    "  Mixed   CASE\ttext\r\n end ",
    "İstanbul İİ",
    "emoji 😀 text 😀😀",
    "\ud800abcdefg",
    "x\x00y\x00z",
    "ab cd",
    "aaaaaaaaaaaa",
]


def test_vectorised_signatures_are_datasketch_minhashes_of_the_exact_shingle_sets():
    """Regression (issue 11, item 13): MinHashes were computed by datasketch one text and one shingle at a time
    (minutes for the CVE corpus); the batched numpy signatures must be the very same MinHash of the very same set."""
    datasketch = pytest.importorskip("datasketch")
    if "scheme" not in datasketch.MinHash.__init__.__code__.co_varnames:
        pytest.skip("datasketch < 2.0 has no affine32 scheme to compare with")
    rng = random.Random(11)
    texts = TRICKY + [_text(rng, rng.randrange(1, 80)) for _ in range(40)]
    cache = new_cache()
    sigs = cache.signatures(texts)
    assert sigs.shape == (len(texts), DECONTAMINATION_NUM_PERM) and sigs.dtype == np.uint32
    for text, sig in zip(texts, sigs, strict=True):
        ref = datasketch.MinHash(num_perm=DECONTAMINATION_NUM_PERM, seed=1, scheme="affine32", hashfunc=shingle_key)
        ref.update_batch(sorted(shingles(text)))
        assert np.array_equal(sig, ref.hashvalues), text


def test_signatures_do_not_depend_on_which_texts_are_hashed_together(monkeypatch):
    rng = random.Random(12)
    texts = TRICKY + [_text(rng, rng.randrange(1, 200)) for _ in range(60)]
    cache = new_cache()
    together = cache.signatures(texts)
    monkeypatch.setattr(decontamination, "_SIGNATURE_CHARS", 300)  # batches of a few texts each
    assert np.array_equal(cache.signatures(texts), together)
    alone = np.stack([cache.signatures([t])[0] for t in texts])
    assert np.array_equal(together, alone)
    assert np.array_equal(minhash_signatures(texts[::-1], cache.perm_a, cache.perm_b), together[::-1])


def test_texts_with_equal_shingle_sets_get_equal_signatures_and_different_ones_do_not():
    cache = new_cache()
    sigs = cache.signatures(["Buffer  Overflow in X", "buffer overflow\tin x", "buffer overflow in y"])
    assert np.array_equal(sigs[0], sigs[1])
    assert not np.array_equal(sigs[0], sigs[2])
