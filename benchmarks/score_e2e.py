"""`distilsec score` end to end (a subprocess, start-up included) beside the model alone, per runtime and threads.

Usage:
    python benchmarks/score_e2e.py --bundle runs/cmdline-distill/student [--sizes 100000 1000000]
        [--runtimes torch onnx] [--threads 1 2] [--out score_e2e.md]

* input: real command lines sampled (with replacement, seeded) from ``cmdline/commands.jsonl.gz`` under the
  data root, after the placeholder normalisation curation applies (real events carry no ``{{file}}``
  placeholders), one per line; the 1M file is the 100k file repeated;
* ``e2e``: ``distilsec score FILE -m BUNDLE --runtime R --threads T -o OUT --no-progress`` in a fresh process:
  start-up, reading, preprocessing, model, JSONL writing; wall-clock and CPU seconds of the child;
* ``model only``: in one process, ``predict_proba`` on the already-preprocessed texts in batches of 2,048
  (what the runtime costs without any I/O), same runtime and threads;
* ``start-up``: ``distilsec score`` on an empty file (best of 3).

``events/s/core`` divides by the CPU seconds used, so it stays comparable on a busy machine, where wall-clock
figures are not. A bundle without ``model.onnx`` is exported (into a temporary copy) for the onnx rows.
Writes a Markdown table to stdout and to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DISTILSEC = [sys.executable, "-m", "distilsec.cli.app"]


def command_lines(data_dir: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` real command lines, sampled with replacement, normalised as curation does, one line each."""
    from distilsec.data.placeholders import normalise_placeholders
    from distilsec.data.readers import read_commands_jsonl

    pool = [
        " ".join(normalise_placeholders(ex.text).split())
        for ex in read_commands_jsonl(data_dir / "cmdline" / "commands.jsonl.gz")
    ]
    pool = [t for t in pool if t]
    rng = random.Random(seed)
    return [rng.choice(pool) for _ in range(n)]


def child_seconds(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU user+sys) seconds of one child process, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def score_cmd(src: Path, bundle: Path, runtime: str, threads: int, out: Path) -> list[str]:
    return [*DISTILSEC, "score", str(src), "-m", str(bundle), "--runtime", runtime, "--threads", str(threads),
            "-o", str(out), "--no-progress"]  # fmt: skip


def model_only(bundle: Path, runtime: str, threads: int, texts: list[str]) -> tuple[float, float]:
    """(events/s wall, events/s per CPU second) of ``predict_proba`` alone on preprocessed texts."""
    from distilsec.serving.scoring import ScoringModel

    model = ScoringModel(bundle, runtime=runtime, threads=threads)
    prepared = [model.preprocess(t) for t in texts]
    model._predict_proba(prepared[:2048])  # warm-up
    cpu0, start = time.process_time(), time.perf_counter()
    for i in range(0, len(prepared), 2048):
        model._predict_proba(prepared[i : i + 2048])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return len(prepared) / wall, len(prepared) / cpu


def onnx_bundle(bundle: Path, work: Path, texts: list[str]) -> Path:
    if (bundle / "model.onnx").is_file():
        return bundle
    from distilsec.serving.export import export_onnx

    copy = work / "bundle-onnx"
    shutil.copytree(bundle, copy)
    export_onnx(copy, validation_texts=texts[:5000])
    return copy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, required=True, help="a char-CNN student bundle")
    ap.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("DISTILSEC_DATA", ROOT.parent / "shared/data"))
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--runtimes", nargs="+", default=["torch", "onnx"], choices=["torch", "onnx"])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path, default=Path("score_e2e.md"))
    args = ap.parse_args()

    base = min(args.sizes)
    texts = command_lines(args.data_dir, base)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bundles = {"torch": args.bundle, "onnx": onnx_bundle(args.bundle, work, texts)}
        files = {}
        for n in args.sizes:
            files[n] = work / f"{n}.txt"
            with open(files[n], "w") as f:
                for _ in range(n // base):
                    f.write("\n".join(texts) + "\n")
        empty = work / "empty.txt"
        empty.write_text("")
        lines = [
            f"`distilsec score` on real command lines (one per line), {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f} at start. e2e = a fresh `distilsec score` process, start-up included.",
            "",
            "| runtime | threads | lines | e2e events/s | e2e events/s/core | model-only events/s | "
            "model-only events/s/core | e2e wall s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        startup = {}
        for rt in args.runtimes:
            runtime = "native" if rt == "torch" else "onnx"
            startup[rt] = min(
                child_seconds(score_cmd(empty, bundles[rt], runtime, 1, work / "o.jsonl"))[0] for _ in range(3)
            )
            for threads in args.threads:
                m_wall, m_cpu = model_only(bundles[rt], runtime, threads, texts)
                for n in args.sizes:
                    wall, cpu = child_seconds(score_cmd(files[n], bundles[rt], runtime, threads, work / "o.jsonl"))
                    row = (f"| {rt} | {threads} | {n:,} | {n / wall:,.0f} | {n / cpu:,.0f} | {m_wall:,.0f} | "
                           f"{m_cpu:,.0f} | {wall:.1f} |")  # fmt: skip
                    lines.append(row)
                    print(row, flush=True)
        lines += ["", "| runtime | start-up on an empty file (s, best of 3) |", "|---|---:|"]
        lines += [f"| {rt} | {s:.2f} |" for rt, s in startup.items()]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
