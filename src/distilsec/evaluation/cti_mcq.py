"""CTI-Bench-style evaluation of a generative LLM: multiple-choice (MCQ), and RCM / VSP answered in prose.

MCQ files are tab-separated with the header ``URL  Question  Option A  Option B  Option C  Option D  Prompt  GT``
(``Prompt`` optional: without it CTI-Bench's instruction is built). RCM / VSP files are the ones
:mod:`distilsec.data.readers.cti_bench` reads; the LLM gets each row's ``Prompt`` and its answer is parsed:
the *last* ``CWE-<n>`` it mentions (CTI-Bench asks for the CWE on the last line, after a justification) or
the last CVSS v3.x vector. Unparseable answers are counted (``parse_failures``) and scored wrong, so a model
cannot gain by refusing.

The MCQ rows are read by :mod:`distilsec.data.readers.cti_mcq`.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from distilsec.data.readers.cti_mcq import MCQ_HEADER, McqItem
from distilsec.data.readers.cti_mcq import read_mcq as read_mcq_rows
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError
from distilsec.teachers.llm.assistant.mcq import choose

__all__ = [
    "MCQItem",
    "McqItem",
    "read_mcq",
    "evaluate_mcq",
    "evaluate_generative",
    "parse_cwe",
    "parse_cvss_vector",
    "MCQ_HEADER",
]


_RCM_PROMPT = (
    "Analyze the following CVE description and map it to the appropriate CWE. Provide a brief justification "
    "for your choice. Ensure the last line of your response contains only the CWE ID.\n\nCVE Description: "
)
_VSP_PROMPT = (
    "Analyze the following CVE description and calculate the CVSS v3.1 Base Score. Determine the values for each "
    "base metric: AV, AC, PR, UI, S, C, I and A. Ensure the last line of your response contains only the CVSS "
    "v3.1 vector string (CVSS:3.1/AV:_/AC:_/PR:_/UI:_/S:_/C:_/I:_/A:_).\n\nCVE Description: "
)
_CWE = re.compile(r"\bCWE[-\s_:]?(\d{1,5})\b", re.IGNORECASE)
_VECTOR = re.compile(r"CVSS:3\.[01]/[A-Z:/]+", re.IGNORECASE)


#: one multiple-choice row (question, four options, GT letter, the benchmark's prompt, URL)
MCQItem = McqItem


def _table(path: Path) -> tuple[list[str], list[list[str]]]:
    from distilsec.data.readers.cti_bench import _rows  # CRLF records with newlines inside fields

    if not path.is_file():
        raise DataError(f"benchmark file not found: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    return _rows(path)


def read_mcq(path: str | Path) -> tuple[list[McqItem], dict[str, int], int]:
    """``(items, skips, n_rows)`` of a CTI-Bench MCQ TSV (:func:`distilsec.data.readers.cti_mcq.read_mcq`).

    Raises
    ------
    DataError
        Missing or empty file, a header lacking the question/option/GT columns, or no usable row.
    """
    skips = SkipCounter()
    items = read_mcq_rows(path, skips=skips)
    return items, skips.as_dict(), len(items) + skips.total


def evaluate_mcq(
    items: Sequence[McqItem],
    backend: Any,
    *,
    index: Any | None = None,
    k: int = 4,
    scoring: str = "generate",
    style: str = "benchmark",
    progress: Callable[[int, int], None] | None = None,
    max_chars: int | None = None,
    excerpt: str | None = None,
    main_first: bool | None = None,
    compact: bool | None = None,
) -> dict[str, Any]:
    """Accuracy of ``backend`` on ``items``: parse failures count as wrong; seconds per question measured.

    ``max_chars`` / ``excerpt`` / ``main_first`` / ``compact``: how open-book ranks and quotes the passages
    (None: :func:`choose`'s defaults).
    """
    if not items:
        raise DataError("no questions to evaluate")
    correct = failures = 0
    predicted: Counter[str] = Counter()
    t0 = time.perf_counter()
    tokens = 0
    examples: list[dict[str, Any]] = []
    asked = {"max_chars": max_chars, "excerpt": excerpt, "main_first": main_first, "compact": compact}
    cut = {key: v for key, v in asked.items() if v is not None}
    prompt_tokens = 0
    for i, it in enumerate(items):
        ch = choose(
            backend, it.question, it.options, prompt=it.prompt, index=index, k=k, scoring=scoring, style=style, **cut
        )
        tokens += ch.completion_tokens
        prompt_tokens += ch.prompt_tokens
        if ch.letter is None:
            failures += 1
            if len(examples) < 5:
                examples.append({"row": i, "answer": ch.raw[:200]})
        predicted[ch.letter or "none"] += 1
        correct += int(ch.letter == it.gt)
        if progress is not None:
            progress(i + 1, len(items))
    seconds = time.perf_counter() - t0
    n = len(items)
    return {
        "n": n,
        "correct": correct,
        "accuracy": correct / n,
        "parse_failures": failures,
        "parse_failure_examples": examples,
        "seconds_per_question": seconds / n,
        "seconds": seconds,
        "completion_tokens": tokens,
        "prompt_tokens_per_question": prompt_tokens / n,
        "scoring": scoring,
        "prompt_style": style,
        "open_book": index is not None,
        "k": k if index is not None else 0,
        **({f"passage_{key}": v for key, v in cut.items()} if index is not None else {}),
        "predicted_letters": dict(sorted(predicted.items())),
        "gt_letters": dict(sorted(Counter(it.gt for it in items).items())),
    }


def parse_cwe(text: str) -> str | None:
    """The last CWE ID an answer mentions (``CWE-79``), or None."""
    found = _CWE.findall(text)
    return f"CWE-{int(found[-1])}" if found else None


def parse_cvss_vector(text: str) -> str | None:
    """The last valid CVSS v3.x vector an answer gives, or None."""
    from distilsec.data.cvss import parse_vector

    for raw in reversed(_VECTOR.findall(text)):
        vec = raw.rstrip("/").upper()
        try:
            parse_vector(vec)
        except DataError:
            continue
        return vec
    return None


def _prompts_by_description(path: Path) -> dict[str, str]:
    """The file's own ``Prompt`` per description (TSV only; ``{}`` when the column is absent)."""
    if ".tsv" not in path.name and ".txt" not in path.name:
        return {}
    header, rows = _table(path)
    cols = {h.strip(): i for i, h in enumerate(header)}
    if "Prompt" not in cols or "Description" not in cols:
        return {}
    j, d = cols["Prompt"], cols["Description"]
    return {r[d].strip(): r[j].strip() for r in rows if len(r) > max(j, d) and r[j].strip()}


def evaluate_generative(
    path: str | Path,
    task: str,
    backend: Any,
    *,
    limit: int | None = None,
    max_tokens: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """RCM (``task="rcm"``, accuracy) or VSP (``"vsp"``, MAD) of an LLM answering each row's prompt in prose.

    A VSP answer without a valid vector is a parse failure: MAD is over the parsed rows, and
    ``parse_failures`` says how many were left out (a model that never answers cannot score 0).
    """
    from distilsec.data.readers.cti_bench import read_bench
    from distilsec.evaluation.cve_metrics import evaluate_rcm, evaluate_vsp

    bench = read_bench(path, task)
    prompts = _prompts_by_description(Path(path).expanduser())
    items = bench.items[:limit] if limit else bench.items
    default = _RCM_PROMPT if task == "rcm" else _VSP_PROMPT
    preds: list[str | None] = []
    t0 = time.perf_counter()
    examples: list[dict[str, Any]] = []
    for i, it in enumerate(items):
        prompt = prompts.get(it.description) or default + it.description
        res = backend.generate([{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0.0, seed=0)
        text = str(res.answer.get("text") or "")
        pred = parse_cwe(text) if task == "rcm" else parse_cvss_vector(text)
        if pred is None and len(examples) < 5:
            examples.append({"row": i, "answer": text[-200:]})
        preds.append(pred)
        if progress is not None:
            progress(i + 1, len(items))
    seconds = time.perf_counter() - t0
    failures = sum(p is None for p in preds)
    if task == "rcm":
        metrics = evaluate_rcm([it.gt for it in items], [[p] if p else [] for p in preds])
    else:
        pairs = [(it.gt, p) for it, p in zip(items, preds, strict=True) if p is not None]
        metrics = evaluate_vsp([g for g, _ in pairs], [p for _, p in pairs]) if pairs else {"n": 0, "mad": float("nan")}
    metrics.update(
        parse_failures=failures, parse_failure_examples=examples, seconds=seconds,
        seconds_per_question=seconds / len(items), rows=bench.n_rows, skipped=bench.skips, evaluated=len(items),
    )  # fmt: skip
    return metrics
