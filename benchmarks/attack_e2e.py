"""`distilsec attack` end to end (start-up, reading, tagging, JSON out) vs the tagger in-process, one run.

    python benchmarks/attack_e2e.py runs/attack [--n 20000] [--threads 1]

Lines: the run's held-out test sentences (``splits/test-sentences.tsv``), repeated to ``--n``. Prints one
Markdown table: sentences/s of the command as a user runs it (``--per-line --json`` to /dev/null, start-up
included), of ``AttackModel.tag`` and of ``predict_proba`` alone, in this process, on the same lines.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    threads = str(args.threads)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = threads
    rows = (args.run / "splits" / "test-sentences.tsv").read_text(encoding="utf-8").splitlines()[1:]
    sentences = [r.split("\t", 1)[1] for r in rows if "\t" in r]
    lines = (sentences * (args.n // len(sentences) + 1))[: args.n]

    import torch

    from distilsec.bundle import load_model

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lines.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        cli = Path(sys.executable).with_name("distilsec")
        cmd = [str(cli), "attack", str(path), "--model", str(args.run), "--per-line", "--json", "--no-progress"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_cli = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = load_model(args.run)
    t_load = time.perf_counter() - t0
    model.tag(lines[:100])
    timings = {}
    for name, fn in (("tag", model.tag), ("predict_proba", model.predict_proba)):
        t0 = time.perf_counter()
        for start in range(0, len(lines), 512):
            fn(lines[start : start + 512])
        timings[name] = time.perf_counter() - t0
    n = len(lines)
    print(f"{n:,} sentences, {args.threads} thread(s); bundle load {t_load:.2f} s\n")
    print("| path | seconds | sentences/s |\n|---|---:|---:|")
    print(f"| `distilsec attack --per-line --json` (start-up included) | {t_cli:.2f} | {n / t_cli:,.0f} |")
    for name, t in timings.items():
        print(f"| in-process `{name}` | {t:.2f} | {n / t:,.0f} |")


if __name__ == "__main__":
    main()
