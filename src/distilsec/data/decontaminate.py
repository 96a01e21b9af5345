"""Decontamination: remove training records that share a CVE ID with a benchmark or nearly copy its text.

A model that saw a benchmark's CVE (or the same description under another ID: re-published advisories,
vendor copies) measures memorisation, not mapping skill. Two tests, both reported per removed record:

* **shared ID**: the training record's ID is a benchmark CVE ID;
* **near-duplicate text**: the Jaccard similarity of the two descriptions' character 5-gram sets (the
  same shingles as curation: lower-cased, whitespace collapsed) is at or above ``threshold``. Candidate
  pairs come from MinHash LSH with ``DECONTAMINATION_NUM_PERM`` permutations and bands chosen so that a
  pair *at* the threshold is a candidate with probability ``1 - 1e-6`` (pairs above it even more surely);
  every candidate is then confirmed with the *exact* Jaccard of the shingle sets. The MinHashes are
  datasketch's ``affine32`` scheme (same permutations) computed for many texts at once in numpy: calling
  datasketch per text hashes every shingle in Python and took minutes for the 200k CVE descriptions.
  Checking every (training, benchmark) pair exactly (``method="exact"``, kept as the reference the
  tests compare against) gives the same removals but took minutes for 3,000 benchmark rows: CVE
  descriptions share so much boilerplate that nearly every pair has some shingle in common;
* optionally **shared word n-gram** (``ngram``): any run of ``ngram`` words in common (the GPT-3
  style test; off by default because CNA templates share long boilerplate across unrelated CVEs).

:func:`check_contamination` runs the tests again on any set (the run applies it to the final training
split, after de-duplication and splitting), so the report shows what is left: zero.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from distilsec.data.curate import SHINGLE, _lsh_params, dedup_key, jaccard, shingles
from distilsec.data.example import Example
from distilsec.errors import ConfigError

__all__ = [
    "BenchText",
    "decontaminate",
    "check_contamination",
    "near_copies_of",
    "new_cache",
    "DecontaminationCache",
    "minhash_signatures",
    "shingle_key",
    "lsh_params",
    "DECONTAMINATION_NUM_PERM",
    "LSH_RECALL",
    "METHODS",
]

log = logging.getLogger("distilsec.data")
_MAX_LISTED = 20
_CHUNK = 4096
_QUERY_CHUNK = 1024  # bounds the (pairs x num_perm) estimate matrix to tens of MB
#: MinHash permutations for decontamination. More than curation's 64: with 256, bands of 4 rows reach
#: recall 1 - 2e-8 at a 0.7 threshold while a query meets ~20 false candidates among 3,000 CVE texts.
DECONTAMINATION_NUM_PERM = 256
#: probability that a pair exactly at the threshold becomes a candidate (decontamination must not miss).
LSH_RECALL = 1.0 - 1e-6
METHODS = ("lsh", "exact")


@dataclass(frozen=True, slots=True)
class BenchText:
    """One protected record: its CVE ID (``""`` when unknown), its text and the file it came from."""

    cve_id: str
    text: str
    origin: str = ""


class DecontaminationCache:
    """Shingle sets by text, the MinHash permutations, and each benchmark's LSH index and answers by text.

    A run checks the same texts several times against the same benchmark (decontamination, the audit
    of the kept set, the audits of the final splits, both CVE tasks): each benchmark text is shingled
    and hashed once, and each training text is looked up once. Training texts' MinHashes are not kept
    (256 values a text: ~200 MB for the CVE corpus); their answers are.
    """

    def __init__(self, num_perm: int = DECONTAMINATION_NUM_PERM) -> None:
        self.num_perm = num_perm
        self.perm_a, self.perm_b = _permutations(num_perm)
        self._sets: dict[str, set[bytes]] = {}
        self._indexes: dict[tuple[int, int, float], _LshIndex] = {}

    def sets(self, texts: Sequence[str]) -> list[set[bytes]]:
        """The exact shingle sets (:func:`distilsec.data.curate.shingles`), memoised."""
        for t in texts:
            if t not in self._sets:
                self._sets[t] = shingles(t)
        return [self._sets[t] for t in texts]

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), num_perm)`` uint32 MinHashes of the texts' shingle sets (see :func:`minhash_signatures`)."""
        return minhash_signatures(texts, self.perm_a, self.perm_b)

    def index(self, reference: Sequence[str], threshold: float) -> _LshIndex:
        key = (hash(tuple(reference)), len(reference), threshold)
        if key not in self._indexes:
            self._indexes[key] = _LshIndex(reference, threshold, self)
        return self._indexes[key]


_KEY_MULT = np.uint64(0x100000001B3)  # polynomial hash of a shingle's code points, mod 2**64
_PAD = 0x110000  # not a code point: fills a text shorter than a shingle up to SHINGLE code points
_SIGNATURE_CHARS = 1 << 16  # texts hashed together: 256 KB of shingle hashes, so each pass stays in cache


def _permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's ``affine32`` permutations ``h -> a*h + b mod 2**32`` (odd ``a``), drawn as it draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer (a bijection on 32 bits), as datasketch applies it before the permutations."""
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def shingle_key(shingle: bytes) -> int:
    """The 32-bit hash of one shingle (as :func:`distilsec.data.curate.shingles` yields it), one at a time.

    The reference for the vectorised :func:`_shingle_hashes`: a polynomial over the shingle's code points
    (padded with a non-code-point to ``SHINGLE`` for texts shorter than that), folded to 32 bits.
    """
    cps = [ord(c) for c in shingle.decode("utf-8", "surrogatepass")]
    h = 0
    for c in cps + [_PAD] * (SHINGLE - len(cps)):
        h = (h * int(_KEY_MULT) + c) & 0xFFFFFFFFFFFFFFFF
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def _shingle_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every shingle occurrence's :func:`shingle_key`, text after text, and the number per text.

    The texts are normalised as :func:`~distilsec.data.curate.shingles` does (whitespace collapsed, then
    lower-cased) and encoded to code points once; the hash of every window of ``SHINGLE`` code points is
    computed for the whole batch with a few array operations. Repeats within a text are kept: they do not
    change a minimum.
    """
    norm = [dedup_key(t).lower() for t in texts]
    lens = np.fromiter(map(len, norm), dtype=np.int64, count=len(norm))
    cps = np.frombuffer("".join(norm).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    windows = np.zeros(max(len(cps) - SHINGLE + 1, 0), dtype=np.uint64)
    for j in range(SHINGLE):
        windows = windows * _KEY_MULT + cps[j : len(cps) - SHINGLE + 1 + j]
    full = lens >= SHINGLE
    counts = np.where(full, lens - SHINGLE + 1, 1)
    out_start = np.cumsum(counts) - counts
    keys = np.empty(int(counts.sum()), dtype=np.uint64)
    n_full = counts[full]
    within = np.arange(int(n_full.sum())) - np.repeat(np.cumsum(n_full) - n_full, n_full)
    text_start = np.cumsum(lens) - lens
    keys[np.repeat(out_start[full], n_full) + within] = windows[np.repeat(text_start[full], n_full) + within]
    for i in np.flatnonzero(~full).tolist():  # the whole (short) text is the one shingle
        keys[out_start[i]] = shingle_key(norm[i].encode("utf-8", "surrogatepass"))
    keys ^= keys >> np.uint64(32)
    return keys.astype(np.uint32), counts


def _batches(texts: Sequence[str], max_chars: int) -> Iterable[tuple[int, int]]:
    """Consecutive ``[lo, hi)`` ranges of at most ``max_chars`` characters (at least one text each)."""
    lo, chars = 0, 0
    for i, t in enumerate(texts):
        if i > lo and chars + len(t) > max_chars:
            yield lo, i
            lo, chars = i, 0
        chars += len(t)
    if lo < len(texts):
        yield lo, len(texts)


def minhash_signatures(texts: Sequence[str], perm_a: np.ndarray, perm_b: np.ndarray) -> np.ndarray:
    """``(len(texts), len(perm_a))`` uint32 MinHashes of the texts' shingle sets, datasketch's ``affine32`` scheme.

    Row ``i`` equals ``datasketch.MinHash(num_perm, seed=1, scheme="affine32", hashfunc=shingle_key)`` updated
    with ``shingles(texts[i])``: a valid MinHash (each value is the minimum of an independent permutation of
    the shingle hashes), so the LSH recall guarantee of :func:`lsh_params` holds. It is computed one
    permutation at a time over all shingles of a batch of texts, with a segment minimum per text
    (``np.minimum.reduceat``): three array passes per permutation instead of Python work per shingle.
    """
    out = np.empty((len(texts), len(perm_a)), dtype=np.uint32)
    for lo, hi in _batches(texts, _SIGNATURE_CHARS):
        hashes, counts = _shingle_hashes(texts[lo:hi])
        hashes = _fmix32(hashes)
        starts = np.cumsum(counts) - counts
        buf = np.empty_like(hashes)
        block = np.empty((len(perm_a), hi - lo), dtype=np.uint32)
        for k in range(len(perm_a)):
            np.multiply(hashes, perm_a[k], out=buf)
            np.add(buf, perm_b[k], out=buf)
            np.minimum.reduceat(buf, starts, out=block[k])
        out[lo:hi] = block.T
    return out


def _band_keys(hv: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per (text, band) from its ``rows`` MinHash values (a collision only adds a candidate)."""
    parts = hv[:, : bands * rows].astype(np.uint64).reshape(len(hv), bands, rows)
    keys = parts[:, :, 0].copy()
    with np.errstate(over="ignore"):
        for r in range(1, rows):
            keys = keys * np.uint64(0x9E3779B97F4A7C15) + parts[:, :, r]
    return keys


class _LshIndex:
    """MinHash LSH (banding) over the reference texts; :meth:`best` answers query texts (memoised).

    The MinHashes come from :meth:`DecontaminationCache.signatures`; the banding is done for all queries
    at once with sorted band keys and ``searchsorted`` (datasketch's ``MinHashLSH.query`` costs ~0.3 ms
    a text in Python, minutes for a CVE corpus), then candidates whose MinHash estimate is far below the
    threshold are dropped and the rest are checked with the exact Jaccard (shingle sets are built for
    those texts only).
    """

    def __init__(self, reference: Sequence[str], threshold: float, cache: DecontaminationCache) -> None:
        self.threshold, self.cache = threshold, cache
        self.bands, self.rows = lsh_params(threshold, cache.num_perm)
        self.ref_sets = cache.sets(reference)
        self.ref_hv = cache.signatures(reference)
        keys = _band_keys(self.ref_hv, self.bands, self.rows)
        self.order = np.argsort(keys, axis=0, kind="stable")
        self.sorted_keys = np.take_along_axis(keys, self.order, axis=0)
        # a pair at the threshold has a MinHash estimate below this with probability < 1e-9 (binomial
        # tail): candidates under it are not worth an exact check
        sd = float(np.sqrt(threshold * (1 - threshold) / cache.num_perm))
        self.min_estimate = max(0.0, threshold - 6.5 * sd)
        self.memo: dict[str, tuple[int, float] | None] = {}

    def _candidates(self, q_hv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query row, reference index) pairs sharing at least one band, each once."""
        keys = _band_keys(q_hv, self.bands, self.rows)
        pairs = []
        for band in range(self.bands):
            col = self.sorted_keys[:, band]
            lo = np.searchsorted(col, keys[:, band], side="left")
            hi = np.searchsorted(col, keys[:, band], side="right")
            n = hi - lo
            if not n.any():
                continue
            q_rows = np.repeat(np.arange(len(q_hv)), n)
            offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
            refs = self.order[np.repeat(lo, n) + offsets, band]
            pairs.append(q_rows.astype(np.int64) * len(col) + refs)
        if not pairs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        flat = np.unique(np.concatenate(pairs))
        return flat // len(self.ref_hv), flat % len(self.ref_hv)

    def best(self, texts: Sequence[str]) -> list[tuple[int, float] | None]:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        for start in range(0, len(todo), _QUERY_CHUNK):
            chunk = todo[start : start + _QUERY_CHUNK]
            q_hv = self.cache.signatures(chunk)
            rows, refs = self._candidates(q_hv)
            # count_nonzero, not mean: mean converts the (pairs x num_perm) booleans to float, ~10x slower
            est = np.count_nonzero(self.ref_hv[refs] == q_hv[rows], axis=1) / q_hv.shape[1]
            keep = est >= self.min_estimate
            found: dict[int, list[tuple[int, float]]] = {}
            q_sets: dict[int, set[bytes]] = {}
            for i, j in zip(rows[keep].tolist(), refs[keep].tolist(), strict=True):
                if i not in q_sets:
                    q_sets[i] = shingles(chunk[i])
                sim = jaccard(q_sets[i], self.ref_sets[j])
                if sim >= self.threshold:
                    found.setdefault(i, []).append((j, sim))
            for i, t in enumerate(chunk):
                self.memo[t] = _best(found.get(i, ()))
        return [self.memo[t] for t in texts]


def new_cache() -> DecontaminationCache:
    """A cache for decontamination; share one across calls on overlapping texts and the same benchmark."""
    return DecontaminationCache()


def lsh_params(threshold: float, num_perm: int = DECONTAMINATION_NUM_PERM) -> tuple[int, int]:
    """(bands, rows) whose candidate probability at ``threshold`` is at least :data:`LSH_RECALL`."""
    return _lsh_params(threshold, num_perm, recall=LSH_RECALL)


def _word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _best(pairs: Iterable[tuple[int, float]]) -> tuple[int, float] | None:
    """The most similar reference (ties: the lowest index), so both methods pick the same one."""
    return min(pairs, key=lambda p: (-p[1], p[0]), default=None)


def _near_copies_lsh(
    queries: Sequence[str], reference: Sequence[str], threshold: float, cache: DecontaminationCache
) -> dict[int, tuple[int, float]]:
    answers = cache.index(reference, threshold).best(queries)
    return {i: a for i, a in enumerate(answers) if a is not None}


def _near_copies_exact(
    queries: Sequence[str], reference: Sequence[str], threshold: float, cache: DecontaminationCache
) -> dict[int, tuple[int, float]]:
    """Every (query, reference) pair, as a sparse product of binary shingle matrices (exact vocabulary)."""
    ref_sets = cache.sets(reference)
    vocab: dict[bytes, int] = {}
    for s in ref_sets:
        for g in s:
            vocab.setdefault(g, len(vocab))

    def matrix(sets: Sequence[set[bytes]]) -> sp.csr_matrix:
        cols = [[vocab[g] for g in s if g in vocab] for s in sets]
        indptr = np.cumsum([0, *map(len, cols)])
        data = np.ones(int(indptr[-1]), dtype=np.float32)
        flat = np.fromiter((c for row in cols for c in row), dtype=np.int64, count=int(indptr[-1]))
        return sp.csr_matrix((data, flat, indptr), shape=(len(sets), len(vocab)))

    bt = matrix(ref_sets).T.tocsc()
    b_size = np.array([len(s) for s in ref_sets], dtype=np.int64)
    found: dict[int, tuple[int, float]] = {}
    for start in range(0, len(queries), _CHUNK):
        q_sets = cache.sets(queries[start : start + _CHUNK])
        q_size = np.array([len(s) for s in q_sets], dtype=np.int64)
        inter = (matrix(q_sets) @ bt).tocoo()
        n = np.rint(inter.data).astype(np.int64)
        jac = n / (q_size[inter.row] + b_size[inter.col] - n)
        keep = jac >= threshold
        for r, c, s in zip(inter.row[keep], inter.col[keep], jac[keep], strict=True):
            cur = found.get(start + int(r))
            cand = (int(c), float(s))
            if cur is None or _best([cur, cand]) == cand:
                found[start + int(r)] = cand
    return found


def near_copies_of(
    queries: Sequence[str],
    reference: Sequence[str],
    threshold: float,
    *,
    method: str = "lsh",
    cache: DecontaminationCache | None = None,
) -> dict[int, tuple[int, float]]:
    """Query index -> (reference index, Jaccard) of its most similar reference text at or above ``threshold``.

    ``method="lsh"`` (default) checks MinHash LSH candidates exactly; ``"exact"`` checks every pair (the
    reference implementation: same answer, far slower on large sets).
    """
    if method not in METHODS:
        raise ConfigError(f"decontamination method must be one of {METHODS}, got {method!r}")
    if not queries or not reference:
        return {}
    cache = cache or new_cache()
    fn = _near_copies_lsh if method == "lsh" else _near_copies_exact
    return fn(queries, reference, threshold, cache)


def _matches(
    train: Sequence[Example],
    bench: Sequence[BenchText],
    threshold: float,
    ngram: int | None,
    method: str = "lsh",
    cache: DecontaminationCache | None = None,
) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Index of each contaminated training example -> why (first reason found)."""
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"decontamination threshold must be in (0, 1], got {threshold}")
    if ngram is not None and ngram < 3:
        raise ConfigError(f"decontamination ngram must be >= 3 words (or null to disable), got {ngram}")
    t0 = time.perf_counter()
    ids = {b.cve_id.upper(): b for b in bench if b.cve_id}
    hits: dict[int, dict[str, Any]] = {}
    for i, ex in enumerate(train):
        b = ids.get(ex.id.upper())
        if b is not None:
            hits[i] = {"id": ex.id, "reason": "shared_id", "bench_id": b.cve_id, "origin": b.origin}
    rest = [i for i in range(len(train)) if i not in hits]
    copies = near_copies_of(
        [train[i].text for i in rest], [b.text for b in bench], threshold, method=method, cache=cache
    )
    for k in sorted(copies):
        j, sim = copies[k]
        i, b = rest[k], bench[j]
        hits[i] = {
            "id": train[i].id,
            "reason": "near_duplicate",
            "bench_id": b.cve_id,
            "jaccard": round(sim, 4),
            "origin": b.origin,
        }
    if ngram is not None:
        grams: set[tuple[str, ...]] = set()
        for b in bench:
            grams |= _word_ngrams(b.text, ngram)
        for i, ex in enumerate(train):
            if i not in hits:
                shared = _word_ngrams(ex.text, ngram) & grams
                if shared:
                    hits[i] = {"id": ex.id, "reason": f"shared_{ngram}gram", "ngram": " ".join(min(shared))}
    info = {"seconds": round(time.perf_counter() - t0, 2), "method": method}
    log.info(
        "decontamination check (%s): %d records against %d benchmark texts, %d hits in %.1f s",
        method,
        len(train),
        len(bench),
        len(hits),
        info["seconds"],
    )
    return hits, info


def decontaminate(
    train: Iterable[Example],
    bench: Sequence[BenchText],
    *,
    threshold: float = 0.7,
    ngram: int | None = None,
    method: str = "lsh",
    cache: DecontaminationCache | None = None,
) -> tuple[list[Example], dict[str, Any]]:
    """Drop training examples that share an ID with ``bench`` or nearly copy one of its texts.

    Parameters
    ----------
    train : training examples; ``Example.id`` is the CVE ID.
    bench : the protected records (every benchmark file the user passed, and our own test split).
    threshold : Jaccard similarity of character 5-gram sets at or above which a text is a near-copy.
        0.7 catches re-worded copies (a version number or product name changed) while keeping CVEs
        that merely share a CNA's template with a benchmark CVE.
    ngram : also drop any training text sharing a run of this many words with a benchmark text.
    method : ``"lsh"`` (MinHash LSH candidates, each checked exactly) or ``"exact"`` (every pair).
    cache : a :func:`new_cache` shared with later calls on the same texts (each benchmark is shingled and
        hashed once, each training text answered once); a fresh one when ``None``.

    Returns
    -------
    (kept, report)
        ``report`` has ``n_in``, ``n_bench``, ``removed`` (total), ``removed_by_reason``, ``removed_examples``
        (the first few, with the benchmark ID and similarity), the settings, and ``after``: the counts a
        second check finds in the kept set (zero shared IDs, zero near-duplicates).
    """
    train = list(train)
    cache = cache or new_cache()
    hits, info = _matches(train, bench, threshold, ngram, method, cache)
    kept = [ex for i, ex in enumerate(train) if i not in hits]
    by_reason: dict[str, int] = {}
    for h in hits.values():
        by_reason[h["reason"]] = by_reason.get(h["reason"], 0) + 1
    listed = [hits[i] for i in sorted(hits)][:_MAX_LISTED]
    report = {
        "n_in": len(train),
        "n_bench": len(bench),
        "n_bench_with_id": sum(1 for b in bench if b.cve_id),
        "threshold": threshold,
        "ngram": ngram,
        "shingle": "char 5-grams, lower-cased, whitespace collapsed",
        "candidates": (
            f"MinHash LSH, {cache.num_perm} permutations, (bands, rows) = "
            f"{lsh_params(threshold, cache.num_perm)}, "
            "each candidate checked with the exact Jaccard"
            if method == "lsh"
            else "every pair, exact Jaccard"
        ),
        "removed": len(hits),
        "removed_by_reason": by_reason,
        "removed_ids": sorted(h["id"] for h in hits.values()),
        "removed_examples": listed,
        "n_out": len(kept),
        **info,
    }
    report["after"] = check_contamination(kept, bench, threshold=threshold, ngram=ngram, method=method, cache=cache)
    log.info("decontamination: %d of %d training records removed (%s)", len(hits), len(train), by_reason)
    return kept, report


def check_contamination(
    train: Sequence[Example],
    bench: Sequence[BenchText],
    *,
    threshold: float = 0.7,
    ngram: int | None = None,
    method: str = "lsh",
    cache: DecontaminationCache | None = None,
) -> dict[str, int]:
    """How many training examples still share an ID with ``bench`` or nearly copy it (the audit)."""
    hits, _ = _matches(train, bench, threshold, ngram, method, cache)
    out = {"shared_ids": 0, "near_duplicates": 0, "shared_ngrams": 0}
    for h in hits.values():
        key = {"shared_id": "shared_ids", "near_duplicate": "near_duplicates"}.get(h["reason"], "shared_ngrams")
        out[key] += 1
    return out
