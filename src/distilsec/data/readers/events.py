"""Event files as records: the input side of ``distilsec score`` (and of teacher labelling and export parity).

Text lines, JSON Lines, CSV or TSV, plain or compressed, from a path or standard input, read with bounded
memory (capped line length). Every row read is accounted for in :class:`ScoreStats`: a row that cannot be
read (bad JSON, no text field) is yielded with an ``error`` and no text, so outputs stay aligned with
inputs and nothing is dropped silently. Which field holds the text is, in order: ``--text-column``, the
column the bundle was trained on (``text_column`` in its manifest), then the usual names
(:data:`TEXT_FIELDS`); see :func:`text_fields`.

A reader, not a scorer: it lives in ``data`` so that code outside serving can read event files without
importing the serving layer, and it imports no model, torch, sklearn or LLM code.
"""

from __future__ import annotations

import csv
import io
import json
import lzma
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from distilsec._internal.textio import MAX_LINE_BYTES, open_binary, read_capped_lines
from distilsec.errors import DataError

__all__ = [
    "TEXT_FIELDS",
    "READ_ERRORS",
    "ScoreStats",
    "text_fields",
    "detect_format",
    "iter_records",
    "open_records",
    "unreadable_input",
    "batched",
]

TEXT_FIELDS = ("text", "url", "command_line", "commandline", "cmdline")
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
