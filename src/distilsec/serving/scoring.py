"""Streaming scoring: text lines, JSONL or CSV in; one JSONL/CSV/Parquet row per input out; bounded memory.

A row that cannot be read (bad JSON, no text field) still gets an output row, with ``error`` set and
no score, so outputs stay aligned with inputs and nothing is dropped silently. Which field holds the text
is, in order: ``--text-column``, the column the bundle was trained on (``text_column`` in its manifest),
then the usual names (:data:`TEXT_FIELDS`). An input that ends early (a truncated ``.gz``/``.xz``, a
corrupt file) stops with one :class:`~distilsec.errors.DataError` line, after every row read before the
damage has been scored and written.

This module is on the start-up path of ``distilsec score``: it imports no torch, sklearn or LLM code.
"""

from __future__ import annotations

import csv
import io
import json
import lzma
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from distilsec._internal.textio import MAX_LINE_BYTES, open_binary, read_capped_lines
from distilsec.bundle import read_manifest
from distilsec.data.preprocess import get_preprocessor
from distilsec.errors import BundleError, DataError

__all__ = [
    "TEXT_FIELDS",
    "ScoringModel",
    "text_fields",
    "iter_records",
    "score_stream",
    "ScoreStats",
    "detect_format",
    "open_records",
    "batched",
    "make_rows",
]

TEXT_FIELDS = ("text", "url", "command_line", "commandline", "cmdline")
#: smallest part of a batch worth a thread of its own (smaller parts cost more to hand over than to score)
MIN_ROWS_PER_THREAD = 256
#: what a damaged compressed or unreadable input raises while it is read (EOFError: truncated .gz/.xz/.bz2)
READ_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error)


@dataclass
class ScoreStats:
    """Counts of one scoring job: ``n_rows == n_scored + n_errors`` (every row read is accounted for).

    ``text_fields`` are the field names looked for, ``columns`` the columns (CSV header) or keys (first JSON
    object without a text field) actually found: the no-row-scored error names both.
    """

    n_rows: int = 0
    n_scored: int = 0
    n_errors: int = 0
    n_truncated: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    # diagnostics for the error message, not counts: two runs that counted the same rows are equal
    text_fields: tuple[str, ...] = field(default=TEXT_FIELDS, compare=False)
    columns: list[str] | None = field(default=None, compare=False)

    def error(self, reason: str) -> None:
        self.n_errors += 1
        self.errors[reason] = self.errors.get(reason, 0) + 1

    def nothing_scored_message(self, source: str) -> str:
        """Why no row of ``source`` could be scored, and what to pass instead (one line)."""
        looked = ", ".join(repr(f) for f in self.text_fields)
        found = "" if self.columns is None else f"; columns found: {', '.join(repr(c) for c in self.columns)}"
        return (
            f"no row of {source} could be scored ({self.n_rows} rows: {self.errors}): looked for the text in "
            f"{looked}{found}; pass --text-column NAME (and --input-format if the format was guessed wrong)"
        )


def text_fields(text_column: str | None = None, bundle_column: str | None = None) -> tuple[str, ...]:
    """The fields to take the text from, in order of preference.

    A column the user names is the only one tried (a typo must not silently fall back to another
    column); the bundle's own training column comes first otherwise, then the usual names.
    """
    if text_column:
        return (text_column,)
    if bundle_column:
        return (bundle_column, *(f for f in TEXT_FIELDS if f != bundle_column))
    return TEXT_FIELDS


class ScoringModel:
    """A loaded bundle plus what scoring needs from its manifest: preprocessing and the threshold.

    ``runtime`` picks the engine (see :mod:`distilsec.serving.runtime`): "auto" runs ``model.onnx`` when the
    bundle has one and the native model otherwise; "native"/"torch", "onnx", "onnx-int8" force one.
    """

    def __init__(self, bundle_dir: str | Path, runtime: str = "auto", threads: int | None = None) -> None:
        from distilsec.serving.runtime import load_runtime_model

        self.bundle_dir = Path(bundle_dir)
        self.manifest = read_manifest(bundle_dir)
        self.model, self.runtime = load_runtime_model(bundle_dir, runtime, threads)
        self.classes = list(self.model.classes_)
        self.threshold = self.manifest.get("threshold")
        self.negative = self.manifest.get("negative", "benign")
        self.positive = self.manifest.get("positive", "malicious")
        self.preprocess = get_preprocessor(self.manifest.get("preprocess", "none"))
        self.max_chars = int(self.manifest.get("max_text_chars", 4096))
        #: the columns the bundle was trained on (None for bundles written before they were recorded)
        self.text_column: str | None = self.manifest.get("text_column")
        self.id_column: str | None = self.manifest.get("id_column")
        #: batches split into this many parts scored at once (see :meth:`_predict_proba`)
        self.threads = max(1, int(threads or 1))
        self._pool: Any = None
        if self.negative not in self.classes and self.positive not in self.classes:
            raise BundleError(f"bundle classes {self.classes} contain neither {self.negative!r} nor {self.positive!r}")

    def scores(self, proba: np.ndarray) -> np.ndarray:
        """Probability of 'not benign' (positive/malicious), also right for multi-class bad subtypes."""
        if self.negative in self.classes:
            return 1.0 - proba[:, self.classes.index(self.negative)]
        return proba[:, self.classes.index(self.positive)]

    def labels(self, proba: np.ndarray, scores: np.ndarray) -> list[str]:
        threshold = 0.5 if self.threshold is None else float(self.threshold)
        if self.negative not in self.classes:
            return [
                self.positive if s >= threshold else self.classes[int(np.argmax(p))]
                for p, s in zip(proba, scores, strict=True)
            ]
        neg = self.classes.index(self.negative)
        masked = proba.copy()
        masked[:, neg] = -1.0
        best_bad = masked.argmax(axis=1)
        pairs = zip(best_bad, scores, strict=True)
        return [self.classes[b] if s >= threshold else self.negative for b, s in pairs]

    def score_batch(self, texts: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Scores, thresholded labels and the full class probabilities of raw texts."""
        if not texts:  # an empty batch is a valid request, not a model call
            return np.zeros(0), [], np.zeros((0, len(self.classes)))
        prepared = [self.preprocess(t[: self.max_chars]) for t in texts]
        proba = self._predict_proba(prepared)
        s = self.scores(proba)
        return s, self.labels(proba, s), proba

    def _predict_proba(self, prepared: list[str]) -> np.ndarray:
        """``predict_proba``, split into ``threads`` parts scored at once when the batch is big enough.

        ONNX Runtime and torch release the GIL while they compute, so parts run on separate cores; each
        part is scored exactly as it would be alone (row results do not depend on their neighbours).
        """
        n_parts = min(self.threads, len(prepared) // MIN_ROWS_PER_THREAD)
        if n_parts <= 1 or getattr(self.model, "parallel_runs", 1) > 1:  # ONNX runs its chunks in parallel itself
            return np.asarray(self.model.predict_proba(prepared))
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="distilsec-score")
        bounds = np.linspace(0, len(prepared), n_parts + 1).astype(int)
        parts = [prepared[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return np.concatenate([np.asarray(p) for p in self._pool.map(self.model.predict_proba, parts)])

    def score_texts(self, texts: list[str]) -> tuple[np.ndarray, list[str]]:
        s, labels, _ = self.score_batch(texts)
        return s, labels


def detect_format(path: str, first_line: str | None) -> str:
    lower = path.lower()
    for ext, fmt in (
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "jsonl"),
        (".csv", "csv"),
        (".tsv", "tsv"),
    ):
        if lower.endswith(ext) or lower.endswith(ext + ".gz"):
            return fmt
    if first_line is not None and first_line.lstrip().startswith("{"):
        return "jsonl"
    return "lines"


def _text_from_mapping(row: dict[str, Any], fields: Sequence[str] = TEXT_FIELDS) -> str | None:
    for key in fields:
        v = row.get(key)
        if isinstance(v, str):
            return v
    return None


def iter_records(
    stream: IO[bytes],
    fmt: str,
    stats: ScoreStats,
    *,
    fields: Sequence[str] = TEXT_FIELDS,
    id_field: str = "id",
) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Yield (passthrough fields, text or None) per input row; None means the row had an error.

    ``fields`` are the names the text may have (first found wins, see :func:`text_fields`); ``id_field``
    is passed through as ``id``.
    """
    fields = tuple(fields)
    stats.text_fields = fields
    lines = read_capped_lines(stream, MAX_LINE_BYTES)
    if fmt in ("csv", "tsv"):
        header_line = next(lines, None)
        if header_line is None:
            return
        delim = "\t" if fmt == "tsv" else ","
        try:
            header = next(csv.reader([header_line[0]], delimiter=delim), [])
        except csv.Error as exc:  # e.g. a stray carriage return in the header line
            raise DataError(f"malformed CSV header line: {exc}") from None
        stats.columns = header
        field_idx = next((header.index(f) for f in fields if f in header), None)
        if field_idx is None:
            want = repr(fields[0]) if len(fields) == 1 else f"(one of {', '.join(repr(f) for f in fields)})"
            raise DataError(
                f"the {fmt.upper()} input has no text column {want}; columns found: "
                f"{', '.join(repr(c) for c in header)}: pass --text-column with the one that holds the text"
            )
        id_idx = header.index(id_field) if id_field in header else None

        # csv handles quoted fields that span lines: feed it a line iterator.
        def _raw() -> Iterator[str]:
            for line, truncated in lines:
                if truncated:
                    stats.n_truncated += 1
                yield line

        reader = csv.reader(_raw(), delimiter=delim)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                stats.n_rows += 1
                stats.error("malformed_csv")
                yield {"error": "malformed CSV row"}, None
                continue
            stats.n_rows += 1
            if field_idx >= len(row):
                stats.error("missing_text")
                yield {"error": f"row has no '{header[field_idx]}' value"}, None
                continue
            extra = {"id": row[id_idx]} if id_idx is not None and id_idx < len(row) else {}
            yield extra, row[field_idx]
        return
    for line, truncated in lines:
        if truncated:
            stats.n_truncated += 1
        if fmt == "lines":
            stats.n_rows += 1
            yield {}, line
            continue
        if not line.strip():
            continue  # blank lines in JSONL are not records
        stats.n_rows += 1
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            stats.error("malformed_json")
            yield {"error": "malformed JSON"}, None
            continue
        if not isinstance(obj, dict):
            stats.error("not_an_object")
            yield {"error": "JSON row is not an object"}, None
            continue
        text = _text_from_mapping(obj, fields)
        ident = obj.get(id_field)
        extra = {"id": ident} if isinstance(ident, (str, int)) else {}
        if text is None:
            stats.error("missing_text")
            if stats.columns is None:
                stats.columns = [str(k) for k in obj]
            yield {**extra, "error": f"no text field (one of {list(fields)})"}, None
            continue
        yield extra, text


def _open_input(source: str) -> IO[bytes]:
    if source == "-":
        return sys.stdin.buffer
    return open_binary(source)


def unreadable_input(source: str, exc: BaseException, n_rows: int | None = None) -> DataError:
    """One line for an input that cannot be read to its end: truncated, corrupt, or not what its name says."""
    name = Path(source).name if source != "-" else "standard input"
    lower = source.lower()
    kind = next((k for k in (".gz", ".xz", ".bz2") if lower.endswith(k)), "")
    if isinstance(exc, EOFError):
        what = f"{name} ends early (a truncated {kind or 'compressed'} file)"
    elif kind:
        what = f"{name} is not a readable {kind} file ({exc})"
    else:
        what = f"{name} could not be read ({exc})"
    fix = "re-download or re-compress it" if kind else "check the file"
    if n_rows is None:
        return DataError(f"{what}: {fix}")
    return DataError(f"{what}: {n_rows} rows read before the damage were scored and written; {fix}")


def _after_rows(source: str, exc: BaseException, n_rows: int) -> DataError:
    """The error that ended reading, saying what became of the rows read before it."""
    if not isinstance(exc, DataError):
        return unreadable_input(source, exc, n_rows)
    if not n_rows:
        return exc
    return DataError(f"{exc} ({n_rows} rows read before it were scored and written)")


def open_records(source: str, input_format: str = "auto") -> tuple[IO[bytes], str]:
    """Open ``source`` (a path or ``-``) and settle its format; the caller closes the stream.

    A file that is not what its name says (a plain file named ``.gz``) fails here, before any output.
    """
    raw = _open_input(source)
    stream = io.BufferedReader(raw) if not isinstance(raw, io.BufferedReader) and source != "-" else raw
    fmt = input_format
    try:
        first = stream.peek(4096)[:4096] if hasattr(stream, "peek") else None
    except READ_ERRORS as exc:
        stream.close()
        raise unreadable_input(source, exc) from None
    if fmt == "auto":
        line = first.split(b"\n", 1)[0].decode("utf-8", "replace") if first is not None else None
        fmt = detect_format(source, line)
    return stream, fmt


def batched(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Lists of at most ``size`` consecutive items (the last one may be shorter)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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


def make_rows(
    items: list[tuple[dict[str, Any], str | None]],
    result: tuple[np.ndarray, list[str], np.ndarray],
    start_row: int,
    classes: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Output rows for one batch: scored records get score/label (+ proba), unreadable ones keep ``error``.

    ``result`` holds the scores of the readable records only, in order; ``classes`` switches on ``proba``.
    """
    scores, labels, proba = result
    rows = []
    k = 0
    for i, (extra, text) in enumerate(items):
        rec: dict[str, Any] = {"row": start_row + i, **extra}
        if text is not None:
            rec["score"] = round(float(scores[k]), 6)
            rec["label"] = labels[k]
            if classes is not None:
                rec["proba"] = {c: round(float(p), 6) for c, p in zip(classes, proba[k], strict=True)}
            k += 1
        else:
            rec.setdefault("score", None)
            rec.setdefault("label", None)
        rows.append(rec)
    return rows


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
    from distilsec.serving.runtime.parallel import score_batches
    from distilsec.serving.sinks import open_sink

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
