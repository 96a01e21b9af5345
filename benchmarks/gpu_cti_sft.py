"""SFT of the 0.5B on the CTI instruction data, then base vs SFT, closed- and open-book, in one timed run.

Meant for a lent GPU machine, run once and unattended (``bash benchmarks/gpu_cti_sft.sh DATA``), and on a
CPU as a smoke test with a tiny step count. Stages, each a subprocess of the ``distilsec`` CLI as a user runs
it, each with a timeout taken from one overall budget (``--budget-s``, default 530 s: under 9 minutes):

1. ``distilsec sft configs/sft/cti-sft.yaml --max-steps N --data.train DATA --export.gguf [q8_0]`` into
   ``OUT/sft`` (LoRA on the 0.5B; bf16 on CUDA); its ``sft-report.json`` gives tokens/s, s/step, peak GPU
   and RSS memory, load seconds and the first/last loss.
2. A stratified sample of the held-out MCQ file (``--per-kind`` questions of each question kind, seed 0;
   the same sampler as ``benchmarks/cti_assistant.py``), then ``distilsec bench cti-mcq SAMPLE --model M
   --prompt-style plain --json [--open-book]`` for SFT and base, closed-book first (the SFT comparison),
   then open-book (needs the knowledge data: ``--data-dir`` or ``$DISTILSEC_DATA``; a missing one is
   recorded as that row's error, the other rows still run).

Writes ``OUT/gpu-cti-sft.json`` after every stage (a killed run keeps what it finished), with the GPU's
peak memory as ``nvidia-smi`` saw it (sampled every 0.5 s) and the device, and prints a Markdown table.
``OUT`` is ``--out``, else ``$OUT`` (the device machine's result folder), else ``runs/gpu-cti-sft``.

    bash benchmarks/gpu_cti_sft.sh runs/cti-data --steps 300 --per-kind 10       # GPU, ~9 min at most
    bash benchmarks/gpu_cti_sft.sh runs/cti-data --steps 2 --limit 3 --val-limit 8 --budget-s 1800  # CPU smoke

The SFT model is exported as q8_0 and the base is the shipped Q4_K_M: the comparison also differs in
quantization (q8_0 is the closer to the trained weights; say so when quoting it). Arguments the script
does not know are passed to ``distilsec sft`` as config overrides (``--train.grad_accum 1``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "distilsec.cli.app"]
sys.path.insert(0, str(ROOT / "benchmarks"))


class GpuMemory:
    """Peak ``memory.used`` (MiB) of all GPUs, polled from ``nvidia-smi`` in a thread; None without one."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.peak_mib: float | None = None
        self.name: str | None = None
        self._stop = threading.Event()
        self._exe = shutil.which("nvidia-smi")
        self._every = every_s
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _query(self, field: str) -> list[str]:
        res = subprocess.run([self._exe, f"--query-gpu={field}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10)  # fmt: skip
        return [ln.strip() for ln in res.stdout.splitlines() if ln.strip()] if res.returncode == 0 else []

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                used = sum(float(v) for v in self._query("memory.used"))
                self.peak_mib = max(self.peak_mib or 0.0, used)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                return
            self._stop.wait(self._every)

    def __enter__(self) -> GpuMemory:
        if self._exe:
            try:
                self.name = ", ".join(self._query("name")) or None
            except (OSError, subprocess.TimeoutExpired):
                self._exe = None
        if self._exe:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def _run(cmd: list[str], timeout: float, log_file: Path) -> tuple[int, str, float]:
    """``(returncode, stdout, seconds)``; stderr goes to ``log_file``; a timeout is returncode 124."""
    t0 = time.perf_counter()
    with log_file.open("a") as err:
        err.write(f"\n$ {' '.join(cmd)}\n")
        err.flush()
        try:
            res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT,
                                 timeout=max(1.0, timeout))  # fmt: skip
            return res.returncode, res.stdout, time.perf_counter() - t0
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return 124, out, time.perf_counter() - t0


def _last_line(path: Path) -> str:
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="folder written by `distilsec cti-data --out DIR` (train.jsonl, ...)")
    ap.add_argument("--heldout", type=Path, help="held-out MCQ file (default DATA/heldout-mcq.tsv)")
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "sft" / "cti-sft.yaml")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b", help="base model (alias or .gguf)")
    ap.add_argument("--steps", type=int, default=300, help="SFT optimizer steps (batch 4 x accumulation 4)")
    ap.add_argument("--per-kind", type=int, default=10, help="held-out questions per question kind")
    ap.add_argument("--limit", type=int, default=None, help="at most this many questions in all (smoke tests)")
    ap.add_argument(
        "--val-limit",
        type=int,
        default=None,
        help="validate on the first N val records only (a stopped run validates on all: slow on CPU)",
    )
    ap.add_argument("--k", type=int, default=None, help="open-book passages (default: bench cti-mcq's)")
    ap.add_argument("--data-dir", type=Path, default=None, help="knowledge data for open-book")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: the cores, at most 16)")
    ap.add_argument("--budget-s", type=float, default=530.0, help="the whole run, seconds")
    ap.add_argument("--out", type=Path, default=Path(os.environ["OUT"]) if os.environ.get("OUT") else None)
    args, sft_overrides = ap.parse_known_args()  # the rest (``--train.lr 1e-4`` ...) goes to `distilsec sft`
    t_start = time.perf_counter()
    out = (args.out or ROOT / "runs" / "gpu-cti-sft").resolve()
    out.mkdir(parents=True, exist_ok=True)
    log_file = out / "gpu-cti-sft.log"
    heldout = args.heldout or args.data / "heldout-mcq.tsv"
    threads = args.threads or max(1, min(os.cpu_count() or 2, 16))
    summary: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "threads": threads, "stages": {}}

    def left() -> float:
        return args.budget_s - (time.perf_counter() - t_start)

    def save() -> None:
        summary["wall_s"] = round(time.perf_counter() - t_start, 1)
        (out / "gpu-cti-sft.json").write_text(json.dumps(summary, indent=2, default=str))

    from cti_assistant import sample

    from distilsec.data.readers.cti_mcq import read_mcq, write_mcq_tsv

    sample_file = out / "heldout-sample.tsv"
    summary["kinds"] = sample(heldout, args.per_kind, 0, sample_file)
    if args.limit:
        write_mcq_tsv(sample_file, read_mcq(sample_file)[: args.limit])
    summary["questions"] = len(read_mcq(sample_file))
    print(f"{summary['questions']} held-out questions from {heldout}", flush=True)

    with GpuMemory() as gpu:
        summary["gpu"] = gpu.name
        # 1. SFT (leave the evaluation a third of the budget, at least 150 s)
        sft_dir = out / "sft"
        cmd = [*CLI, "sft", str(args.config), "--out", str(sft_dir), "--max-steps", str(args.steps),
               "--no-resume", "--data.train", str(args.data), "--export.gguf", "[q8_0]"]  # fmt: skip
        if args.val_limit and (args.data / "val.jsonl").is_file():
            val = out / "val-head.jsonl"
            with (args.data / "val.jsonl").open() as f:
                val.write_text("".join(line for _, line in zip(range(args.val_limit), f, strict=False)))
            cmd += ["--data.val", str(val)]
        cmd += sft_overrides
        rc, _, secs = _run(cmd, left() - max(150.0, args.budget_s / 3), log_file)
        stage: dict = {"rc": rc, "wall_s": round(secs, 1)}
        report_file = sft_dir / "sft-report.json"
        if rc == 0 and report_file.is_file():
            rep = json.loads(report_file.read_text())
            tr, cost = rep["training"], rep["cost"]
            stage.update(
                device=rep["device"], dtype=rep["dtype"], load_s=rep["load_seconds"], steps=tr["steps"],
                first_loss=tr["train_loss"][0], last_loss=tr["train_loss"][-1], val_loss=tr.get("val_loss"),
                tokens_per_s=cost["tokens_per_s"], seconds_per_step=cost["seconds_per_step"],
                peak_gpu_mb=cost["peak_gpu_mb"], peak_rss_mb=cost["peak_rss_mb"],
                gguf=(rep["exports"].get("gguf_q8_0") or {}).get("path"),
            )  # fmt: skip
        else:
            stage["error"] = "timed out" if rc == 124 else _last_line(log_file)
        summary["stages"]["sft"] = stage
        summary["gpu_peak_mib_nvidia_smi"] = gpu.peak_mib
        save()
        print(json.dumps({"sft": stage}), flush=True)

        # 2. base vs SFT, closed-book then open-book
        models = [("sft", stage.get("gguf")), ("base", args.model)]
        rows = []
        for book in ("closed", "open"):
            for name, model in models:
                row: dict = {"model": name, "path": model, "book": book}
                if not model:
                    row["error"] = "no SFT model (see the sft stage)"
                elif left() < 20:
                    row["error"] = "out of time budget"
                else:
                    cmd = [*CLI, "bench", "cti-mcq", str(sample_file), "--model", str(model), "--prompt-style",
                           "plain", "--json", "--threads", str(threads)]  # fmt: skip
                    if book == "open":
                        cmd.append("--open-book")
                        cmd += ["--k", str(args.k)] if args.k else []
                        cmd += ["--data-dir", str(args.data_dir)] if args.data_dir else []
                    rc, stdout, secs = _run(cmd, left() - 5, log_file)
                    row["wall_s"] = round(secs, 1)
                    if rc == 0 and "{" in stdout:
                        res, _ = json.JSONDecoder().raw_decode(stdout[stdout.index("{") :])
                        row.update({k: res[k] for k in ("n", "accuracy", "parse_failures", "seconds_per_question",
                                                        "predicted") if k in res})  # fmt: skip
                    else:
                        row["error"] = "timed out" if rc == 124 else _last_line(log_file)
                rows.append(row)
                summary["eval"] = rows
                summary["gpu_peak_mib_nvidia_smi"] = gpu.peak_mib
                save()
                print(json.dumps(row), flush=True)
    save()
    s = summary["stages"]["sft"]
    print(f"\nSFT: {s.get('steps')} steps on {s.get('device')} ({s.get('dtype')}), {s.get('tokens_per_s')} tokens/s, "
          f"{s.get('seconds_per_step')} s/step, loss {s.get('first_loss')} -> {s.get('last_loss')}, "
          f"peak GPU {s.get('peak_gpu_mb')} MB (torch) / {summary['gpu_peak_mib_nvidia_smi']} MiB (nvidia-smi), "
          f"peak RSS {s.get('peak_rss_mb')} MB; {s.get('error') or ''}")  # fmt: skip
    print(f"\n| model | book | accuracy ({summary['questions']} q) | parse failures | s/question | wall s |")
    print("|---|---|---:|---:|---:|---:|")
    for r in summary["eval"]:
        if "error" in r:
            print(f"| {r['model']} | {r['book']} | error: {r['error']} | | | |")
        else:
            print(f"| {r['model']} | {r['book']} | {r['accuracy']:.3f} | {r['parse_failures']} | "
                  f"{r['seconds_per_question']:.2f} | {r['wall_s']:.0f} |")  # fmt: skip
    print(f"\ntotal {summary['wall_s']} s; summary: {out / 'gpu-cti-sft.json'}")


if __name__ == "__main__":
    main()
