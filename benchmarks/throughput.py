"""Scoring throughput, events/s on ONE core, every bundle of a run side by side on the same events.

Usage:  python benchmarks/throughput.py RUN_DIR [RUN_DIR ...] [--events 20000] [--batch 1024]

The events are the run's own held-out test texts (read back through the run's split ids), scored
through the same path as ``distilsec score`` (preprocessing + model), in batches. Absolute numbers
depend on the machine; the ratios between models measured here, in one process, are what to report.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from distilsec.config import load_config  # noqa: E402
from distilsec.pipeline.run import prepare_data  # noqa: E402
from distilsec.serving.scoring import ScoringModel  # noqa: E402


def measure(scorer: ScoringModel, texts: list[str], batch: int, min_seconds: float) -> float:
    scorer.score_texts(texts[:batch])  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        for i in range(0, len(texts), batch):
            scorer.score_texts(texts[i : i + batch])
            n += len(texts[i : i + batch])
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--teacher-events", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--min-seconds", type=float, default=3.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for run in args.runs:
        config = load_config(run / "config.yaml")
        data = prepare_data(config)
        texts = [ex.text for ex in data.test + data.val + data.train][: args.events]
        bundles = sorted(p.parent for p in run.glob("*/manifest.json"))
        results = {}
        for b in bundles:
            scorer = ScoringModel(b)
            sample = texts[: args.teacher_events] if b.name == "teacher" else texts
            eps = measure(scorer, sample, args.batch if b.name != "teacher" else 64, args.min_seconds)
            manifest = json.loads((b / "manifest.json").read_text())
            size = sum(f.stat().st_size for f in b.glob("*.safetensors"))
            results[b.name] = eps
            rows.append(
                {
                    "task": config.data.task,
                    "model": b.name,
                    "type": manifest["type"],
                    "params": manifest.get("n_parameters"),
                    "size_mb": round(size / 2**20, 2),
                    "events_per_s_1core": round(eps),
                }
            )
        for r in rows:
            if r["task"] == config.data.task and "teacher" in results:
                r["x_teacher"] = round(results[r["model"]] / results["teacher"], 1)
    cols = ["task", "model", "type", "params", "size_mb", "events_per_s_1core", "x_teacher"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    cores_needed = {r["model"]: 1e9 / 86400 / r["events_per_s_1core"] for r in rows}
    print()
    for r in rows:
        print(f"{r['task']}/{r['model']}: 1 billion events/day needs {cores_needed[r['model']]:.2f} cores")


if __name__ == "__main__":
    main()
