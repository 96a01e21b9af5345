"""The fast near-duplicate search used by the CVE task agrees with the exact Jaccard definition."""

from __future__ import annotations

from distilsec.data.curate import jaccard, shingles
from distilsec.data.near_dup import ShingleCache, near_copies, near_dedup
from tests.tasks.cve_fixtures import description


def test_near_dedup_keeps_one_per_label_and_never_chains():
    base = description(0, 1)
    texts = [base, base + " x", description(1, 2), base + " x", base]
    labels = ["a", "a", "a", "b", "a"]
    kept, dropped = near_dedup(texts, labels, 0.9, ShingleCache(64))
    assert kept == [0, 2, 3]  # index 3 has another label: kept (removing it would pick a label)
    assert dropped == {1: 0, 4: 0}
    assert all(jaccard(shingles(texts[i]), shingles(texts[j])) >= 0.9 for i, j in dropped.items())


def test_near_copies_per_query_set():
    ref = [description(0, i) for i in range(5)]
    queries = {"val": [ref[2] + " (updated)", "something else entirely, nothing alike"], "test": [ref[4]]}
    out = near_copies(ref, queries, 0.8, ShingleCache(64))
    assert set(out["val"]) == {0} and out["val"][0][0] == 2 and out["val"][0][1] >= 0.8
    assert out["test"] == {0: (4, 1.0)}
