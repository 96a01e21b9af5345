"""Decontaminate instruction records against benchmark files (CTI-Bench MCQ / RCM / VSP TSV), and audit.

A record is removed when it names a CVE ID that a benchmark row names (``shared_cve_id``), or when its
benchmark-like text (the CVE description, the procedure sentence, the question) nearly copies a benchmark
text (``near_copy``: character 5-gram Jaccard >= ``threshold``, MinHash LSH candidates confirmed exactly;
the machinery of :mod:`distilsec.data.decontaminate`). :func:`audit_jsonl` re-reads the *written* files and
runs both tests again: its counts must be zero.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec.data.cve_record import CVE_ID
from distilsec.data.decontaminate import BenchText, DecontaminationCache, near_copies_of, new_cache
from distilsec.data.instruct.records import Record, record_from_json
from distilsec.data.readers.cti_ate import _read_text
from distilsec.data.readers.cti_bench import read_bench_texts
from distilsec.data.readers.cti_mcq import is_mcq_header, read_mcq
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["Benchmark", "read_benchmark", "decontaminate_records", "audit_jsonl", "DEFAULT_THRESHOLD"]

#: as the CVE task: catches re-worded copies, keeps texts that merely share a template
DEFAULT_THRESHOLD = 0.7
_LISTED = 20


@dataclass
class Benchmark:
    """The protected texts and CVE IDs of one benchmark file."""

    path: str
    format: str
    texts: list[BenchText]
    cve_ids: set[str] = field(default_factory=set)
    n_rows: int = 0
    skips: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "texts": len(self.texts),
            "cve_ids": len(self.cve_ids),
            "skips": self.skips,
        }


def _cves(text: str) -> set[str]:
    return {m.group(0).upper() for m in CVE_ID.finditer(text)}


def read_benchmark(path: str | Path) -> Benchmark:
    """Read a benchmark file of any supported format: MCQ (``Question``/``Option A`` columns), else RCM/VSP.

    Raises
    ------
    DataError
        A missing or empty file, an unknown header, or no row with a question / description.
    """
    p, text = _read_text(path)
    name = Path(p).name
    if is_mcq_header(text.lstrip("\ufeff").split("\n", 1)[0]):
        skips = SkipCounter()
        items = read_mcq(p, skips=skips, require_gt=False)
        texts = [
            BenchText(next(iter(sorted(_cves(it.question + " " + it.url))), ""), it.question, name) for it in items
        ]
        ids = set().union(*(_cves(" ".join([it.question, it.url, *it.options])) for it in items))
        return Benchmark(str(p), "mcq", texts, ids, len(items) + skips.total, skips.as_dict())
    bs = read_bench_texts(p)
    texts = [BenchText(it.cve_id, it.description, name) for it in bs.items]
    ids = {it.cve_id.upper() for it in bs.items if it.cve_id} | set().union(*(_cves(it.description) for it in bs.items))
    return Benchmark(str(p), bs.task, texts, ids, bs.n_rows, bs.skips)


def _near(
    queries: Sequence[str], benches: Sequence[Benchmark], threshold: float, cache: DecontaminationCache
) -> dict[int, tuple[str, float]]:
    """Query index -> (benchmark origin, Jaccard) of a near-copy in any benchmark."""
    reference = [b for bench in benches for b in bench.texts]
    if not reference or not queries:
        return {}
    found = near_copies_of(list(queries), [b.text for b in reference], threshold, cache=cache)
    return {i: (reference[j].origin, sim) for i, (j, sim) in found.items()}


def _check(
    items: Sequence[tuple[str, list[str], list[str]]],
    benches: Sequence[Benchmark],
    threshold: float,
    cache: DecontaminationCache,
) -> dict[int, dict[str, Any]]:
    """``items`` = (record id, texts to scan for CVE IDs, texts to compare) -> index -> why it is contaminated."""
    ids = set().union(*(b.cve_ids for b in benches)) if benches else set()
    hits: dict[int, dict[str, Any]] = {}
    for i, (rid, scan, _) in enumerate(items):
        shared = sorted(set().union(*(_cves(t) for t in scan)) & ids)
        if shared:
            hits[i] = {"id": rid, "reason": "shared_cve_id", "cve": shared[0]}
    flat = [(i, t) for i, (_, _, cmp) in enumerate(items) if i not in hits for t in dict.fromkeys(cmp) if t]
    for k, (origin, sim) in sorted(_near([t for _, t in flat], benches, threshold, cache).items()):
        i = flat[k][0]
        if i not in hits:
            hits[i] = {"id": items[i][0], "reason": "near_copy", "jaccard": round(sim, 4), "origin": origin}
    return hits


def decontaminate_records(
    records: Sequence[Record],
    benches: Sequence[Benchmark],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    cache: DecontaminationCache | None = None,
) -> tuple[list[Record], dict[str, Any]]:
    """Records without any benchmark CVE ID or near-copy, and a report of what was removed and why."""
    cache = cache or new_cache()
    items = [(r.id, [*r.texts(), *r.entities], [r.core, r.question, r.user]) for r in records]
    hits = _check(items, benches, threshold, cache) if benches else {}
    kept = [r for i, r in enumerate(records) if i not in hits]
    by_reason = Counter(h["reason"] for h in hits.values())
    by_template = Counter(records[i].template for i in hits)
    report = {
        "benchmarks": [b.summary() for b in benches],
        "threshold": threshold,
        "n_in": len(records),
        "removed": len(hits),
        "removed_by_reason": dict(by_reason),
        "removed_by_template": dict(by_template),
        "removed_examples": [hits[i] for i in sorted(hits)][:_LISTED],
        "n_out": len(kept),
    }
    return kept, report


def audit_jsonl(
    paths: Sequence[Path],
    benches: Sequence[Benchmark],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    cache: DecontaminationCache | None = None,
) -> dict[str, int]:
    """Re-check written chat JSONL files against the benchmarks: ``shared_cve_ids`` and ``near_copies`` (want 0)."""
    items: list[tuple[str, list[str], list[str]]] = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    user, answer, meta = record_from_json(json.loads(line))
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise DataError(f"{p}:{n}: not a chat record ({exc})") from None
                scan = [user, answer, *map(str, meta.get("entities", []))]
                items.append((str(meta.get("id", n)), scan, [str(meta.get("question", "")), user]))
    hits = _check(items, benches, threshold, cache or new_cache()) if benches else {}
    counts = Counter(h["reason"] for h in hits.values())
    return {"records": len(items), "shared_cve_ids": counts["shared_cve_id"], "near_copies": counts["near_copy"]}
