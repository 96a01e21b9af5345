"""A labelling job: ask a teacher about many inputs through the ledger, resumably, with a cost estimate.

Every answer is read from the :class:`~distilsec.teachers.ledger.TeacherLedger` when present and
written to it the moment a new one arrives, so a re-run costs nothing and a job killed at any point
resumes without repeating a stored call or losing a label. Before a large job starts, the caller gets
an estimate of the calls, tokens and seconds it will take (:func:`estimate_cost`), and ``max_calls``
refuses a job that would exceed a budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.progress import Progress

from distilsec._internal.console import console, progress
from distilsec.errors import DataError
from distilsec.teachers.ledger import TeacherLedger

__all__ = [
    "CallResult",
    "CostEstimate",
    "LabelRun",
    "StageProgress",
    "estimate_cost",
    "rate_progress",
    "run_labelling",
    "stage_progress",
]

log = logging.getLogger("distilsec.labelling")


@dataclass(frozen=True)
class CallResult:
    """What one teacher call returned: a JSON-able answer and its cost."""

    answer: dict[str, Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class CostEstimate:
    """Calls still to make (inputs not in the ledger) and what they should cost."""

    n_inputs: int
    n_unique: int
    n_cached: int
    calls: int
    prompt_tokens: int
    seconds: float
    #: where ``seconds`` comes from: ``"ledger"`` (this model's measured history) or ``"default"``.
    basis: str

    def describe(self) -> str:
        return (
            f"{self.n_inputs:,} inputs ({self.n_unique:,} distinct): {self.n_cached:,} answered in the ledger, "
            f"{self.calls:,} teacher calls to make, ~{self.prompt_tokens:,} prompt tokens, "
            f"~{_duration(self.seconds)} ({self.basis} rate)"
        )


@dataclass
class LabelRun:
    """Answers aligned with the inputs, and what this run spent."""

    answers: list[dict[str, Any]]
    calls: int
    cached: int
    seconds: float
    call_seconds: float
    prompt_tokens: int
    estimate: CostEstimate | None = None
    errors: list[str] = field(default_factory=list)


def rate_progress(disable: bool) -> Progress:
    """Progress bar on stderr with calls done, rate and ETA (silent when disabled or not a terminal)."""
    return progress("rate", disable=disable)


class StageProgress:
    """The live counters of one long stage: :meth:`advance` moves its bar and keeps the rate."""

    def __init__(self, bar: Progress, task: Any, unit: str) -> None:
        self._bar, self._task, self.unit = bar, task, unit
        self.done = 0
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def rate(self) -> float:
        """Items per second so far."""
        return self.done / max(self.seconds, 1e-9)

    def advance(self, n: int, note: str = "", description: str | None = None) -> None:
        """``n`` more items done; ``note`` (e.g. the loss) is shown before the rate."""
        self.done += n
        text = f"{note} · " if note else ""
        fields: dict[str, Any] = {"rate": f"{text}{self.rate():,.0f} {self.unit}/s"}
        if description is not None:
            fields["description"] = description
        self._bar.update(self._task, advance=n, **fields)


@contextmanager
def stage_progress(
    desc: str, total: int, *, unit: str = "texts", logger: logging.Logger | None = None, disable: bool = False
) -> Iterator[StageProgress]:
    """A long stage (fine-tuning, scoring a large set): a bar on stderr, and one log line at start and end.

    The bar is drawn only when stderr is a terminal, so piped or captured output stays clean; the two
    log lines (with counts and seconds) are always written, so a log file shows where time went.
    """
    logger = logger or log
    logger.info("%s: started (%s %s)", desc, f"{total:,}", unit)
    quiet = disable or not console.is_terminal
    ok = False
    with rate_progress(disable=quiet) as bar:
        stage = StageProgress(bar, bar.add_task(desc, total=total, rate=""), unit)
        try:
            yield stage
            ok = True
        finally:
            logger.info(
                "%s: %s, %s of %s %s in %.1f s (%s %s/s)",
                desc,
                "done" if ok else "stopped",
                f"{stage.done:,}",
                f"{total:,}",
                unit,
                stage.seconds,
                f"{stage.rate():,.0f}",
                unit,
            )


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def estimate_cost(
    texts: Sequence[str],
    ledger: TeacherLedger | None,
    model: str,
    template: str,
    *,
    tokens_per_call: Callable[[str], int] | None = None,
    default_seconds_per_call: float = 1.0,
) -> CostEstimate:
    """How many calls a job on ``texts`` needs, and roughly how many tokens and seconds.

    ``tokens_per_call(text)`` counts the prompt tokens of one call (the backend's tokenizer, or a
    character-based guess); seconds use this model's measured mean from the ledger when it has one.
    """
    unique = list(dict.fromkeys(texts))
    cached = ledger.get_many(model, template, unique) if ledger is not None else {}
    todo = [t for t in unique if t not in cached]
    count = tokens_per_call or (lambda t: len(t) // 3 + 1)
    tokens = sum(count(t) for t in todo)
    spc = ledger.seconds_per_call(model) if ledger is not None else None
    basis = "ledger" if spc is not None else "default"
    per_call = spc if spc is not None else default_seconds_per_call
    return CostEstimate(len(texts), len(unique), len(cached), len(todo), tokens, per_call * len(todo), basis)


def run_labelling(
    texts: Sequence[str],
    call: Callable[[list[str]], list[CallResult]],
    ledger: TeacherLedger | None,
    model: str,
    template: str,
    *,
    batch_size: int = 1,
    desc: str = "teacher labelling",
    max_calls: int | None = None,
    estimate: CostEstimate | None = None,
    progress: bool = True,
) -> LabelRun:
    """Answer every text: from the ledger when stored, else by ``call`` (stored at once).

    Parameters
    ----------
    texts : inputs; duplicates are asked once.
    call : the teacher on a batch of texts, one :class:`CallResult` per text (an LLM takes batches of 1).
    ledger : where answers live; ``None`` keeps them in memory only (no resume).
    model, template : the ledger key parts (see :mod:`distilsec.teachers.ledger`).
    batch_size : texts per ``call``; each batch is stored in one transaction.
    max_calls : refuse (DataError) when more calls than this would be needed; ``None`` = no limit.
    estimate : a precomputed :func:`estimate_cost` (to log it once); computed when missing.

    Returns
    -------
    LabelRun whose ``answers[i]`` belongs to ``texts[i]``; ``calls`` counts texts sent to the teacher.
    """
    start = time.perf_counter()
    est = estimate or estimate_cost(texts, ledger, model, template)
    if max_calls is not None and est.calls > max_calls:
        raise DataError(f"labelling needs {est.calls:,} teacher calls, above max_calls={max_calls:,}: {est.describe()}")
    if est.calls:
        log.info("%s: %s", desc, est.describe())
    unique = list(dict.fromkeys(texts))
    stored = ledger.get_many(model, template, unique) if ledger is not None else {}
    answers: dict[str, dict[str, Any]] = {t: e.answer for t, e in stored.items()}
    todo = [t for t in unique if t not in answers]
    calls, call_seconds, tokens = 0, 0.0, 0
    with rate_progress(disable=not (progress and todo)) as bar:
        task = bar.add_task(desc, total=len(todo), rate="")
        for b in range(0, len(todo), max(1, batch_size)):
            batch = todo[b : b + max(1, batch_size)]
            t0 = time.perf_counter()
            results = call(batch)
            wall = time.perf_counter() - t0
            if len(results) != len(batch):
                raise DataError(f"the teacher returned {len(results)} answers for {len(batch)} inputs")
            rows = []
            for text, res in zip(batch, results, strict=True):
                sec = res.seconds or wall / len(batch)
                rows.append((text, res.answer, res.prompt_tokens, res.completion_tokens, sec))
                answers[text] = res.answer
                call_seconds += sec
                tokens += res.prompt_tokens
            if ledger is not None:
                ledger.put_many(model, template, rows)
            calls += len(batch)
            bar.update(task, advance=len(batch), rate=f"{calls / max(call_seconds, 1e-9):.2f} calls/s")
    return LabelRun(
        answers=[answers[t] for t in texts],
        calls=calls,
        cached=len(unique) - len(todo),
        seconds=time.perf_counter() - start,
        call_seconds=call_seconds,
        prompt_tokens=tokens,
        estimate=est,
    )
