"""Streaming scoring: text lines, JSONL or CSV in; one JSONL/CSV/Parquet row per input out; bounded memory.

The pieces, each in its own module: reading records (:mod:`distilsec.data.readers.events`), the loaded
model (:mod:`distilsec.serving.model`), batches on several cores (:mod:`distilsec.serving.runtime.parallel`)
and output writers (:mod:`distilsec.serving.sinks`); :func:`score_stream` joins them. Their names are
re-exported here, where callers imported them before the split.

A row that cannot be read (bad JSON, no text field) still gets an output row, with ``error`` set and
no score, so outputs stay aligned with inputs and nothing is dropped silently. An input that ends early
(a truncated ``.gz``/``.xz``, a corrupt file) stops with one :class:`~distilsec.errors.DataError` line,
after every row read before the damage has been scored and written.

This module is on the start-up path of ``distilsec score``: it imports no torch, sklearn or LLM code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from distilsec.data.readers.events import (
    READ_ERRORS,
    TEXT_FIELDS,
    ScoreStats,
    batched,
    detect_format,
    iter_records,
    open_records,
    text_fields,
    unreadable_input,
)
from distilsec.errors import DataError
from distilsec.serving.model import MIN_ROWS_PER_THREAD, ScoringModel
from distilsec.serving.runtime.parallel import score_batches
from distilsec.serving.sinks import make_rows, open_sink

__all__ = [
    "TEXT_FIELDS",
    "MIN_ROWS_PER_THREAD",
    "READ_ERRORS",
    "ScoringModel",
    "text_fields",
    "iter_records",
    "score_stream",
    "ScoreStats",
    "detect_format",
    "open_records",
    "unreadable_input",
    "batched",
    "make_rows",
    "open_output",
]


def _after_rows(source: str, exc: BaseException, n_rows: int) -> DataError:
    """The error that ended reading, saying what became of the rows read before it."""
    if not isinstance(exc, DataError):
        return unreadable_input(source, exc, n_rows)
    if not n_rows:
        return exc
    return DataError(f"{exc} ({n_rows} rows read before it were scored and written)")


class _ReadGuard:
    """Wraps the record iterator: a read error ends the stream cleanly and is kept to be raised later.

    The batch being filled when the input broke is then still scored and written, so the output holds
    every row read before the damage (``distilsec score`` says how many), not a partial, unexplained file.
    """

    def __init__(self, records: Iterator[tuple[dict[str, Any], str | None]]) -> None:
        self.records = records
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[tuple[dict[str, Any], str | None]]:
        try:
            yield from self.records
        except (DataError, *READ_ERRORS) as exc:  # DataError: open_binary's checked decompression
            self.error = exc


def open_output(path: str | Path, output_format: str) -> IO[Any]:
    """Open an output file; a missing folder is a DataError naming it (not a FileNotFoundError traceback)."""
    p = Path(path)
    if not p.parent.is_dir():
        raise DataError(f"cannot write {p}: the folder {p.parent} does not exist; create it or choose another -o")
    if p.is_dir():
        raise DataError(f"cannot write {p}: it is a folder; give a file name with -o")
    try:
        if output_format == "parquet":
            return open(p, "wb")  # noqa: SIM115 - the caller closes it
        return open(p, "w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise DataError(f"cannot write {p}: {exc.strerror or exc}") from None


def score_stream(
    model: ScoringModel,
    source: str,
    out: IO[Any] | str | Path,
    *,
    input_format: str = "auto",
    output_format: str = "jsonl",
    batch_size: int = 2048,
    on_batch: Callable[[int], Any] | None = None,
    workers: int = 0,
    proba: bool = False,
    text_column: str | None = None,
    id_column: str | None = None,
) -> ScoreStats:
    """Score every record of ``source`` (a path or ``-``) and write one row per record to ``out``.

    ``out`` is a text stream for jsonl/csv and a binary stream for parquet, or a file path (opened only
    once the input has opened, so a missing input leaves no empty output behind). ``workers`` > 1 scores
    batches in that many processes (order kept, memory bounded); ``proba`` adds every class probability
    (the teacher-labelling job). ``text_column``/``id_column`` override the bundle's (see :func:`text_fields`).

    Raises
    ------
    DataError : the input broke off or is corrupt (after the rows read before were scored and written).
    """
    stats = ScoreStats()
    fields = text_fields(text_column, model.text_column)
    id_field = id_column or model.id_column or "id"
    stream, fmt = open_records(source, input_format)  # a missing input fails before any output is written
    if fmt == "lines" and (text_column or id_column):
        if source != "-":
            stream.close()
        raise DataError(
            f"--text-column/--id-column name fields, but {source} is read as plain text lines (one event per "
            "line): pass --input-format csv, tsv or jsonl"
        )
    row_no = 0
    owned: IO[Any] | None = None
    try:
        if isinstance(out, (str, Path)):
            out = owned = open_output(out, output_format)
        classes = model.classes if proba else None
        sink = open_sink(output_format, out, classes)
        guard = _ReadGuard(iter_records(stream, fmt, stats, fields=fields, id_field=id_field))
        try:
            for items, result in score_batches(model, batched(iter(guard), batch_size), workers):
                sink.write_batch(items, result, row_no, classes)
                row_no += len(items)
                stats.n_scored += len(result[1])
                if on_batch is not None:
                    on_batch(len(items))
        finally:
            sink.close()  # a Parquet file gets its footer even when the input broke off
        if guard.error is not None:
            raise _after_rows(source, guard.error, stats.n_rows)
    finally:
        if owned is not None:
            owned.close()
        if source != "-":
            stream.close()
    return stats
