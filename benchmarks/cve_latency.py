"""CVE model latency on ONE core: ms per CVE (single-description calls) and CVEs/s (batches), every model
of a CVE run side by side on the run's own held-out descriptions.

Usage:  python benchmarks/cve_latency.py RUN_DIR [--n 1000] [--batch 256]

Models: the shipped bundle (CWE student + CVSS heads, end to end through ``CveModel.predict``), and each
other CWE bundle of the run (baseline, teacher, hard-label student, encoder if present) through
``predict_proba``. Numbers depend on the machine; the ratios measured in one process are what to report.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from distilsec.bundle import load_model, read_manifest  # noqa: E402
from distilsec.data.readers.cti_bench import read_bench  # noqa: E402
from distilsec.students.cve_model import require_cve_model  # noqa: E402


def single_ms(fn, texts: list[str]) -> dict[str, float]:
    fn(texts[:5])
    times = []
    for t in texts:
        t0 = time.perf_counter()
        fn([t])
        times.append(1000 * (time.perf_counter() - t0))
    return {"median_ms": round(float(np.median(times)), 3), "p95_ms": round(float(np.percentile(times, 95)), 3)}


def batch_rate(fn, texts: list[str], batch: int) -> float:
    fn(texts[:batch])
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        fn(texts[i : i + batch])
    return round(len(texts) / (time.perf_counter() - t0), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--n", type=int, default=1000, help="held-out descriptions timed one by one")
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(1)
    texts = [it.description for it in read_bench(args.run / "bench" / "heldout-rcm.tsv", "rcm").items][: args.n]
    shipped = require_cve_model(load_model(args.run), args.run)
    rows = {"shipped (CWE + CVSS, end to end)": (shipped.predict, shipped.n_parameters)}
    classifiers = (
        p for p in args.run.iterdir() if (p / "manifest.json").is_file() and read_manifest(p)["type"] != "cve_model.v1"
    )  # the CWE-only bundles (the shipped and the time-split CVE bundles are timed end to end above)
    for d in sorted(classifiers):
        m = load_model(d)
        rows[f"{d.name} ({read_manifest(d)['type']}, CWE only)"] = (m.predict_proba, getattr(m, "n_parameters", 0))
    out = {}
    with threadpool_limits(1):
        for name, (fn, n_params) in rows.items():
            n = min(len(texts), 100) if "encoder" in name else len(texts)
            out[name] = {
                "params": int(n_params),
                **single_ms(fn, texts[:n]),
                "cves_per_s_batched": batch_rate(fn, texts[:n], args.batch),
                "n_timed": n,
            }
            print(f"{name:>48}: {out[name]}", flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
