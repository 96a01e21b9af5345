"""Decontamination by MinHash LSH candidates + exact check removes exactly what the exact all-pairs check removes."""

from __future__ import annotations

import random

import pytest

from distilsec.data.curate import jaccard, shingles
from distilsec.data.decontaminate import (
    LSH_RECALL,
    BenchText,
    decontaminate,
    lsh_params,
    near_copies_of,
    new_cache,
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
