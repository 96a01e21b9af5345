"""Decontamination: remove training records that share a CVE ID with a benchmark or nearly copy its text.

A model that saw a benchmark's CVE (or the same description under another ID: re-published advisories,
vendor copies) measures memorisation, not mapping skill. Two tests, both reported per removed record:

* **shared ID**: the training record's ID is a benchmark CVE ID;
* **near-duplicate text**: the Jaccard similarity of the two descriptions' character 5-gram sets (the
  same shingles as curation: lower-cased, whitespace collapsed) is at or above ``threshold``. It is
  computed *exactly* for every (training, benchmark) pair, as a sparse product of binary shingle
  matrices (5-grams hashed into 2**22 buckets, so collisions are rare and move a similarity by a
  shingle or so), not estimated with MinHash: decontamination must not miss a pair;
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

from distilsec.data.curate import dedup_key
from distilsec.data.example import Example
from distilsec.errors import ConfigError

__all__ = ["BenchText", "decontaminate", "check_contamination", "max_jaccard"]

log = logging.getLogger("distilsec.data")
_MAX_LISTED = 20
_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class BenchText:
    """One protected record: its CVE ID (``""`` when unknown), its text and the file it came from."""

    cve_id: str
    text: str
    origin: str = ""


def _word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _shingle_matrix(texts: Sequence[str]) -> sp.csr_matrix:
    """Binary (n, 2**22) matrix of hashed character 5-grams; a text shorter than 5 is one shingle."""
    from sklearn.feature_extraction.text import HashingVectorizer

    hv = HashingVectorizer(
        analyzer="char",
        ngram_range=(5, 5),
        n_features=2**22,
        binary=True,
        norm=None,
        alternate_sign=False,
        lowercase=False,
        dtype=np.float32,
    )
    keys = [dedup_key(t).lower() for t in texts]
    return hv.transform([k if len(k) >= 5 else k.ljust(5, "\0") for k in keys]).tocsr()


def max_jaccard(queries: Sequence[str], reference: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each query text: the highest exact shingle Jaccard with any reference text, and that text's index."""
    best = np.zeros(len(queries))
    arg = np.full(len(queries), -1)
    if not queries or not reference:
        return best, arg
    b = _shingle_matrix(reference)
    b_size = np.asarray(b.sum(axis=1)).ravel()
    bt = b.T.tocsc()
    for start in range(0, len(queries), _CHUNK):
        q = _shingle_matrix(queries[start : start + _CHUNK])
        q_size = np.asarray(q.sum(axis=1)).ravel()
        inter = (q @ bt).tocoo()
        if inter.nnz == 0:
            continue
        jac = inter.data / (q_size[inter.row] + b_size[inter.col] - inter.data)
        order = np.lexsort((-jac, inter.row))  # per row, the best first
        rows, first = np.unique(inter.row[order], return_index=True)
        best[start + rows] = jac[order][first]
        arg[start + rows] = inter.col[order][first]
    return best, arg


def _matches(
    train: Sequence[Example], bench: Sequence[BenchText], threshold: float, ngram: int | None
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
    best, arg = max_jaccard([train[i].text for i in rest], [b.text for b in bench])
    for k in np.flatnonzero(best >= threshold):
        i, b = rest[k], bench[arg[k]]
        hits[i] = {
            "id": train[i].id,
            "reason": "near_duplicate",
            "bench_id": b.cve_id,
            "jaccard": round(float(best[k]), 4),
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
    info = {"seconds": round(time.perf_counter() - t0, 2)}
    return hits, info


def decontaminate(
    train: Iterable[Example],
    bench: Sequence[BenchText],
    *,
    threshold: float = 0.7,
    ngram: int | None = None,
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

    Returns
    -------
    (kept, report)
        ``report`` has ``n_in``, ``n_bench``, ``removed`` (total), ``removed_by_reason``, ``removed_examples``
        (the first few, with the benchmark ID and similarity), the settings, and ``after``: the counts a
        second check finds in the kept set (zero shared IDs, zero near-duplicates).
    """
    train = list(train)
    hits, info = _matches(train, bench, threshold, ngram)
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
        "removed": len(hits),
        "removed_by_reason": by_reason,
        "removed_ids": sorted(h["id"] for h in hits.values()),
        "removed_examples": listed,
        "n_out": len(kept),
        **info,
    }
    report["after"] = check_contamination(kept, bench, threshold=threshold, ngram=ngram)
    log.info("decontamination: %d of %d training records removed (%s)", len(hits), len(train), by_reason)
    return kept, report


def check_contamination(
    train: Sequence[Example],
    bench: Sequence[BenchText],
    *,
    threshold: float = 0.7,
    ngram: int | None = None,
) -> dict[str, int]:
    """How many training examples still share an ID with ``bench`` or nearly copy it (the audit)."""
    hits, _ = _matches(train, bench, threshold, ngram)
    out = {"shared_ids": 0, "near_duplicates": 0, "shared_ngrams": 0}
    for h in hits.values():
        key = {"shared_id": "shared_ids", "near_duplicate": "near_duplicates"}.get(h["reason"], "shared_ngrams")
        out[key] += 1
    return out
