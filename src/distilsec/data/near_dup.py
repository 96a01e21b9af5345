"""Fast near-duplicate search for large text sets (the CVE corpus: ~200k descriptions).

Same definition as :mod:`distilsec.data.curate` (Jaccard similarity of lower-cased character 5-gram
sets, candidates from MinHash LSH tuned for 99% recall, confirmed with the exact Jaccard), with two
changes that make it ~4x faster: shingles are hashed with CRC-32 instead of SHA-1 (MinHash needs a
uniform hash, not a cryptographic one), and every text's shingle set and MinHash are computed once and
reused by every pass (within-set dedup, cross-split removal, both CVE tasks).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from distilsec.data.curate import _lsh_params, jaccard, shingles

__all__ = ["ShingleCache", "near_dedup", "near_copies"]


class ShingleCache:
    """Shingle sets and MinHashes by text, computed on first use."""

    def __init__(self, num_perm: int = 64) -> None:
        self.num_perm = num_perm
        self._sets: dict[str, set[bytes]] = {}
        self._mh: dict[str, Any] = {}

    def sets(self, texts: Sequence[str]) -> list[set[bytes]]:
        for t in texts:
            if t not in self._sets:
                self._sets[t] = shingles(t)
        return [self._sets[t] for t in texts]

    def minhashes(self, texts: Sequence[str]) -> list[Any]:
        from datasketch import MinHash

        todo = list(dict.fromkeys(t for t in texts if t not in self._mh))
        if todo:
            for t, mh in zip(
                todo, MinHash.bulk(self.sets(todo), num_perm=self.num_perm, seed=1, hashfunc=zlib.crc32), strict=True
            ):
                self._mh[t] = mh
        return [self._mh[t] for t in texts]


def near_dedup(
    texts: Sequence[str], labels: Sequence[Any], threshold: float, cache: ShingleCache
) -> tuple[list[int], dict[int, int]]:
    """Greedy star clustering within one set: index i is dropped when an earlier *kept* text with the same
    label has Jaccard >= threshold with it (so every dropped text has a kept near-copy; no chaining).

    Returns (kept indices in input order, dropped index -> the kept index it copies).
    """
    from datasketch import MinHashLSH

    sets, mhs = cache.sets(texts), cache.minhashes(texts)
    lsh = MinHashLSH(num_perm=cache.num_perm, params=_lsh_params(threshold, cache.num_perm))
    kept: list[int] = []
    dropped: dict[int, int] = {}
    for i in range(len(texts)):
        dup = next(
            (j for j in sorted(lsh.query(mhs[i])) if labels[j] == labels[i] and jaccard(sets[i], sets[j]) >= threshold),
            None,
        )
        if dup is None:
            lsh.insert(i, mhs[i])
            kept.append(i)
        else:
            dropped[i] = dup
    return kept, dropped


def near_copies(
    reference: Sequence[str], queries: dict[str, Sequence[str]], threshold: float, cache: ShingleCache
) -> dict[str, dict[int, tuple[int, float]]]:
    """Per query set: query index -> (reference index, Jaccard) of its most similar reference text at or
    above ``threshold``. The reference is indexed once for every query set."""
    from datasketch import MinHashLSH

    ref_sets = cache.sets(reference)
    lsh = MinHashLSH(num_perm=cache.num_perm, params=_lsh_params(threshold, cache.num_perm))
    for j, mh in enumerate(cache.minhashes(reference)):
        lsh.insert(j, mh)
    out: dict[str, dict[int, tuple[int, float]]] = {}
    for name, texts in queries.items():
        q_sets, found = cache.sets(texts), {}
        for i, mh in enumerate(cache.minhashes(texts)):
            best = max(((jaccard(q_sets[i], ref_sets[j]), j) for j in lsh.query(mh)), default=(0.0, -1))
            if best[0] >= threshold:
                found[i] = (best[1], best[0])
        out[name] = found
    return out
