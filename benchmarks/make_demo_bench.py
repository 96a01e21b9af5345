"""Build the 100-row demo benchmark (CTI-Bench RCM format) used to exercise decontamination in docs/benchmarks/cve.md.

Usage:  python benchmarks/make_demo_bench.py OUT.tsv [--data-dir DIR]

30 pre-2023 CVEs under their real IDs (must leave training as shared IDs), 30 pre-2023 descriptions lightly
re-worded under made-up IDs CVE-2099-* (must leave as near-duplicates), 40 CVEs published in 2024. Built from
our own data only: it is not, and contains nothing from, CTI-Bench.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from distilsec.data.paths import resolve_data_dir
from distilsec.data.readers.cti_bench import write_bench_tsv
from distilsec.data.skips import SkipCounter
from distilsec.tasks.cve import load_cve_records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args()
    root = resolve_data_dir(args.data_dir, required=("cve",))
    sources = ["nvd-2.0", "nvd-1.1", "cve5"]
    records, _ = load_cve_records(root / "cve", sources, sources, SkipCounter())
    rng = random.Random(1)
    usable = [r for r in records if r.specific_cwes and not r.rejected and r.year]
    pre = [r for r in usable if 2017 <= r.year < 2023]
    post = [r for r in usable if r.year >= 2024]
    rows = [(r.cve_id, r.description, r.specific_cwes[0]) for r in rng.sample(pre, 30)]
    for r in rng.sample(pre, 30):
        text = r.description.replace("before", "prior to") + " (fixed in 9.9.9)"
        rows.append((f"CVE-2099-{len(rows):05d}", text, r.specific_cwes[0]))
    rows += [(r.cve_id, r.description, r.specific_cwes[0]) for r in rng.sample(post, 40)]
    write_bench_tsv(args.out, "rcm", rows)
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
