"""Events/s on ONE core for every student x runtime (torch/sklearn, ONNX Runtime fp32, int8) beside the teacher.

Usage:
    python benchmarks/throughput_runtimes.py [--tasks cmdline url] [--run cmdline=runs/x] [--events 20000]

For each task: real events (see ``_deploy_models.py``), bundles from ``--run TASK=DIR`` or trained briefly,
ONNX export with its parity check on held-out real events, then in one process and one run:

* ``end-to-end``: ``ScoringModel.score_texts`` (what ``distilsec score`` does per batch: the task's
  normalisation + featurisation + model), batches of 1024 (teacher: 64);
* ``model only``: ``predict_proba`` on already-normalised texts (featurisation + model).

One core = torch 1 thread, ONNX Runtime 1 intra-op thread, OMP_NUM_THREADS=1. ``cores for 1e9/day`` is
1e9 / 86,400 s / end-to-end events/s. Writes a Markdown table to stdout and JSON to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from _deploy_models import quick_bundles, real_events, run_bundles, silence  # noqa: E402

from distilsec.serving.export import export_onnx  # noqa: E402
from distilsec.serving.scoring import ScoringModel  # noqa: E402

EVENTS_PER_DAY = 1e9


def rate(fn, texts: list[str], batch: int, min_seconds: float) -> float:
    fn(texts[:batch])  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        for i in range(0, len(texts), batch):
            fn(texts[i : i + batch])
            n += len(texts[i : i + batch])
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=["cmdline", "url"])
    ap.add_argument("--run", action="append", default=[], help="TASK=RUN_DIR: use that run's bundles")
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--teacher-events", type=int, default=1000)
    ap.add_argument("--min-seconds", type=float, default=3.0)
    ap.add_argument("--work", type=Path, default=None, help="where quick bundles go (default: a temp folder)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    silence()
    torch.set_num_threads(1)
    runs = dict(r.split("=", 1) for r in args.run)
    work = args.work or Path(tempfile.mkdtemp(prefix="distilsec-bench-"))
    rows, parity = [], []
    for task in args.tasks:
        bundles = run_bundles(Path(runs[task])) if task in runs else quick_bundles(task, work)
        texts, _ = real_events(task, args.events, seed=7)  # seed 7: not the quick bundles' training sample
        for name, bundle in bundles.items():
            if name == "teacher":
                continue
            res = export_onnx(bundle, validation_texts=texts[:5000], int8=True, validation_source="5,000 real events")
            for precision, p in res.parity.items():
                parity.append({"task": task, "model": name, "precision": precision, **p})
        for name, bundle in bundles.items():
            runtimes = ["native"] if name == "teacher" else ["native", "onnx", "onnx-int8"]
            sample = texts[: args.teacher_events] if name == "teacher" else texts
            batch = 64 if name == "teacher" else 1024
            for rt in runtimes:
                scorer = ScoringModel(bundle, runtime=rt, threads=1)
                prepared = [scorer.preprocess(t[: scorer.max_chars]) for t in sample]
                e2e = rate(scorer.score_texts, sample, batch, args.min_seconds)
                model_only = rate(scorer.model.predict_proba, prepared, batch, args.min_seconds)
                label = {"native": "torch" if scorer.manifest["type"] != "hashed_linear.v1" else "sklearn+numpy"}.get(
                    rt, "ORT fp32" if rt == "onnx" else "ORT int8"
                )
                rows.append(
                    {
                        "task": task,
                        "model": name,
                        "type": scorer.manifest["type"],
                        "runtime": label,
                        "events_per_s_e2e": round(e2e),
                        "events_per_s_model": round(model_only),
                        "cores_for_1e9_per_day": round(EVENTS_PER_DAY / 86400 / e2e, 2),
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr)
        teacher = {r["task"]: r["events_per_s_e2e"] for r in rows if r["model"] == "teacher"}
        for r in rows:
            if r["task"] in teacher:
                r["x_teacher"] = round(r["events_per_s_e2e"] / teacher[r["task"]], 1)
    cols = ["task", "model", "type", "runtime", "events_per_s_e2e", "events_per_s_model", "cores_for_1e9_per_day",
            "x_teacher"]  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print(
            "| "
            + " | ".join(f"{r.get(c, ''):,}" if isinstance(r.get(c), int) else str(r.get(c, "")) for c in cols)
            + " |"
        )
    print()
    pcols = ["task", "model", "precision", "n", "max_abs_diff", "mean_abs_diff", "n_decisions_differ", "file_bytes"]
    print("| " + " | ".join(pcols) + " |")
    print("|" + "---|" * len(pcols))
    for p in parity:
        cells = [f"{p[c]:.2e}" if isinstance(p[c], float) else str(p[c]) for c in pcols]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"throughput": rows, "parity": parity}, indent=2))


if __name__ == "__main__":
    main()
