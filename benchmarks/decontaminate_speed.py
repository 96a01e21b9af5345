"""Decontamination speed: MinHash LSH candidates + exact check vs the exact all-pairs check (same removals).

    python benchmarks/decontaminate_speed.py [--data-dir /work/shared/data] [--bench 3000] [--limit N]

Training records are the CVE descriptions under ``<data-dir>/cve`` (read with the project's readers);
the 3,000 "benchmark" rows are descriptions drawn from the same corpus, a third of them lightly edited
(a near-copy under another ID, the case decontamination exists for). Prints seconds per method, the
number of records removed, and whether both methods removed exactly the same records.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from distilsec.data.decontaminate import BenchText, decontaminate, new_cache
from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.tasks.cve import SOURCE_PATHS, load_cve_records


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
    ap.add_argument("--skip-exact", action="store_true", help="time the LSH path only")
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
    results = {}
    for method in ("lsh",) if args.skip_exact else ("lsh", "exact"):
        t = time.perf_counter()
        _, rep = decontaminate(train, bench, threshold=0.7, method=method, cache=new_cache())
        seconds = time.perf_counter() - t
        results[method] = rep["removed_ids"]
        print(
            f"{method:>5}: {seconds:7.1f} s (decontaminate + audit of the kept set, shingling and hashing included), "
            f"{len(train):,} records x {len(bench):,} benchmark rows, removed {rep['removed']:,}"
        )
    if len(results) == 2:
        print("same removals:", results["lsh"] == results["exact"])


if __name__ == "__main__":
    main()
