"""The same ``score`` job on the local engine (1 and N processes) and on Ray Data (local Ray), same input.

Usage:
    python benchmarks/ray_vs_local.py --model BUNDLE [--task url] [--events 100000] [--parts 4] [--cpus 2] [--proba]

Writes ``--events`` real events as JSONL, in one file (local engine) and split into ``--parts`` files
(a partitioned input for Ray), scores them with each engine into JSONL, checks that every output is
byte-identical to the single-process one, and reports wall time and events/s. Ray's time includes
starting the local Ray instance once (reported apart) and its per-job start-up (actor pool, bundle load).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _deploy_models import jsonl_file, real_events  # noqa: E402

from distilsec.serving.ray_engine import init_ray, score_with_ray  # noqa: E402
from distilsec.serving.scoring import ScoringModel, score_stream  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--task", default="url")
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--proba", action="store_true", help="every class probability (the teacher-labelling job)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="distilsec-ray-"))
    texts, _ = real_events(args.task, args.events, seed=5)
    while len(texts) < args.events:  # a task with fewer events than asked: repeat them
        texts += texts[: args.events - len(texts)]
    single = jsonl_file(texts, tmp / "events.jsonl")
    parts = tmp / "parts"
    parts.mkdir()
    size = -(-len(texts) // args.parts)
    with open(single, encoding="utf-8") as f:
        lines = f.readlines()
    for k in range(args.parts):
        (parts / f"part-{k:03d}.jsonl").write_text("".join(lines[k * size : (k + 1) * size]), encoding="utf-8")

    results = []
    reference = None

    def record(engine: str, seconds: float, out: Path) -> None:
        nonlocal reference
        data = out.read_bytes()
        reference = reference if reference is not None else data
        eps = round(len(texts) / seconds)
        results.append({"engine": engine, "events": len(texts), "seconds": round(seconds, 2),
                        "events_per_s": eps, "identical_output": data == reference})  # fmt: skip
        print(json.dumps(results[-1]), flush=True)

    model = ScoringModel(args.model)
    for workers in (0, args.cpus):
        out = tmp / f"local-{workers}.jsonl"
        start = time.perf_counter()
        with open(out, "w", encoding="utf-8") as f:
            score_stream(model, str(single), f, workers=workers, proba=args.proba)
        record(f"local, {max(workers, 1)} process(es)", time.perf_counter() - start, out)
    start = time.perf_counter()
    init_ray(num_cpus=args.cpus)
    print(json.dumps({"ray_init_seconds": round(time.perf_counter() - start, 2)}), flush=True)
    for name, source in (("ray, 1 file", single), (f"ray, {args.parts} files", parts)):
        out = tmp / f"{name.replace(' ', '_').replace(',', '')}.jsonl"
        start = time.perf_counter()
        with open(out, "w", encoding="utf-8") as f:
            score_with_ray(args.model, str(source), f, proba=args.proba)
        record(f"{name} ({args.cpus} CPUs)", time.perf_counter() - start, out)
    print()
    print("| engine | events | seconds | events/s | output identical to local |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['engine']} | {r['events']:,} | {r['seconds']} | {r['events_per_s']:,} | {r['identical_output']} |")


if __name__ == "__main__":
    main()
