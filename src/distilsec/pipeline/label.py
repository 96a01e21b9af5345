"""File-level LLM labelling jobs behind ``distilsec label``: fit a teacher from a table, label a file.

Labels are written as JSON Lines, one row per input row and in input order, so a labelled file lines
up with its source. Every teacher call goes through the ledger: run the same command again after a
kill and it continues where it stopped, without repeating a call.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from distilsec.errors import DataError
from distilsec.teachers.labelling import CostEstimate
from distilsec.teachers.llm.teacher import LLMTeacher

__all__ = ["fit_teacher_from_table", "label_file", "LabelFileStats", "read_inputs"]

log = logging.getLogger("distilsec.llm")


@dataclass
class LabelFileStats:
    n_rows: int
    n_labelled: int
    n_errors: int
    calls: int
    cached: int
    seconds: float
    estimate: CostEstimate | None


def fit_teacher_from_table(
    train: str | Path,
    out: str | Path,
    *,
    calibrate: str | Path | None = None,
    text_column: str = "text",
    label_column: str = "label",
    **params: Any,
) -> LLMTeacher:
    """Fit an LLM teacher on a labelled table (shots; calibration on ``calibrate`` or held-out rows); save it."""
    from distilsec.data.readers import read_table

    def rows(path: str | Path) -> tuple[list[str], list[str]]:
        exs = [e for e in read_table(path, text_column=text_column, label_column=label_column) if e.label is not None]
        if not exs:
            raise DataError(f"{path} has no labelled rows")
        return [e.text for e in exs], [str(e.label) for e in exs]

    texts, y = rows(train)
    teacher = LLMTeacher(**params)
    if calibrate is not None:
        cal_texts, cal_y = rows(calibrate)
        teacher.fit(texts, y, calibration_texts=cal_texts, calibration_y=cal_y)
    else:
        teacher.fit(texts, y)
    teacher.save(out)
    return teacher


def read_inputs(source: str, input_format: str = "auto") -> tuple[list[dict[str, Any]], list[str | None]]:
    """Rows of a text-lines / JSONL / CSV file (``-`` = stdin): passthrough fields and text (None = bad row)."""
    from distilsec.serving.scoring import ScoreStats, iter_records, open_records

    stream, fmt = open_records(source, input_format)
    stats = ScoreStats()
    extras, texts = [], []
    try:
        for extra, text in iter_records(stream, fmt, stats):
            extras.append(extra)
            texts.append(text)
    finally:
        if source != "-":
            stream.close()
    return extras, texts


def label_file(
    teacher: LLMTeacher,
    source: str,
    out: IO[str],
    *,
    input_format: str = "auto",
    estimate_only: bool = False,
) -> LabelFileStats:
    """Label every row of ``source`` and write JSON Lines to ``out`` (row, id, label, proba per class).

    With ``estimate_only`` nothing is called or written: the returned stats carry the cost estimate.
    """
    extras, texts = read_inputs(source, input_format)
    good = [t for t in texts if t is not None]
    est = teacher.estimate(good)
    if estimate_only:
        return LabelFileStats(len(texts), 0, len(texts) - len(good), 0, est.n_cached, 0.0, est)
    proba = teacher.predict_proba(good) if good else None
    run = getattr(teacher, "last_run_", None)
    it = iter(range(len(good)))
    n_err = 0
    for i, (extra, text) in enumerate(zip(extras, texts, strict=True)):
        row: dict[str, Any] = {"row": i, **extra}
        if text is None:
            n_err += 1
            row.setdefault("error", "unreadable row")
        else:
            p = proba[next(it)]  # type: ignore[index]
            row["label"] = teacher.classes_[int(p.argmax())]
            row["proba"] = {c: round(float(v), 6) for c, v in zip(teacher.classes_, p, strict=True)}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return LabelFileStats(
        len(texts),
        len(good),
        n_err,
        run.calls if run else 0,
        run.cached if run else 0,
        run.seconds if run else 0.0,
        est,
    )
