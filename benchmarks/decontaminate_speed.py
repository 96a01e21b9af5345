"""Decontamination speed: MinHash LSH candidates + exact check, before/after vectorised MinHashes, vs all pairs.

    python benchmarks/decontaminate_speed.py [--data-dir /work/shared/data] [--bench 3000] [--limit N]
                                             [--skip-exact] [--skip-before]

Training records are the CVE descriptions under ``<data-dir>/cve`` (read with the project's readers);
the 3,000 "benchmark" rows are descriptions drawn from the same corpus, a third of them lightly edited
(a near-copy under another ID, the case decontamination exists for). Each method runs on a fresh cache:

* ``before``: the LSH path with the MinHashes computed as before, one datasketch ``MinHash`` per text
  (every shingle hashed in Python, every text's shingle set kept);
* ``lsh``: the LSH path as shipped (MinHashes for a batch of texts at once in numpy);
* ``exact``: every (record, benchmark) pair checked exactly (the reference).

Prints seconds per method (decontamination plus the audit of the kept set, shingling and hashing included),
the number of records removed, and whether every method removed exactly the same records.
"""

from __future__ import annotations

import argparse
import random
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from distilsec.data.decontaminate import BenchText, DecontaminationCache, decontaminate, new_cache
from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.tasks.cve import SOURCE_PATHS, load_cve_records


class _DatasketchCache(DecontaminationCache):
    """The previous signatures: datasketch ``MinHash.bulk`` per text over its shingle set (CRC-32 per shingle)."""

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        from datasketch import MinHash

        minhashes = MinHash.bulk(self.sets(texts), num_perm=self.num_perm, seed=1, hashfunc=zlib.crc32)
        return np.stack([m.hashvalues for m in minhashes])


def _edit(rng: random.Random, text: str) -> str:
    words = text.split()
    for _ in range(max(1, len(words) // 15)):
        words[rng.randrange(len(words))] = rng.choice(["foo", "2.0.1", "Acme", "crafted"])
    return " ".join(words)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="/work/shared/data")
    ap.add_argument("--bench", type=int, default=3000)
    ap.add_argument("--limit", type=int, default=None, help="use the first N records only")
    ap.add_argument("--skip-exact", action="store_true", help="do not time the exact all-pairs path")
    ap.add_argument("--skip-before", action="store_true", help="do not time the previous (per-text) MinHashes")
    args = ap.parse_args()

    t0 = time.perf_counter()
    sources = list(SOURCE_PATHS)
    records, _ = load_cve_records(Path(args.data_dir) / "cve", sources, sources, SkipCounter())
    train = [Example(r.description, "x", id=r.cve_id) for r in records if r.description][: args.limit]
    print(f"read {len(train):,} CVE descriptions in {time.perf_counter() - t0:.1f} s")
    rng = random.Random(0)
    picked = rng.sample(train, args.bench)
    bench = [
        BenchText(f"BENCH-{i}", _edit(rng, e.text) if i % 3 == 0 else e.text, "generated") for i, e in enumerate(picked)
    ]
    caches = {"lsh": new_cache, "before": _DatasketchCache, "exact": new_cache}
    methods = [m for m in caches if not (m == "exact" and args.skip_exact or m == "before" and args.skip_before)]
    results = {}
    for name in methods:
        t, c = time.perf_counter(), time.process_time()
        _, rep = decontaminate(
            train, bench, threshold=0.7, method="exact" if name == "exact" else "lsh", cache=caches[name]()
        )
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        results[name] = rep["removed_ids"]
        print(
            f"{name:>6}: {seconds:7.1f} s wall, {cpu:7.1f} s CPU, {len(train):,} records x {len(bench):,} "
            f"benchmark rows, removed {rep['removed']:,}"
        )
    if len(results) > 1:
        print("same removals:", all(r == results["lsh"] for r in results.values()))


if __name__ == "__main__":
    main()
