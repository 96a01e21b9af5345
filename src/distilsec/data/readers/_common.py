"""Shared plumbing for the readers: path checks, tolerant YAML, capped lines, text cleaning.

Every reader follows the same bad-input policy, so it lives here once: a missing path is a
:class:`~distilsec.errors.DataError` raised when the reader is *called* (not on the first ``next``),
and everything that is wrong with one file or one record is a counted skip, never a traceback.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from distilsec._internal.textio import MAX_LINE_BYTES, decode_bytes, iter_csv_records, read_capped_lines
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = [
    "need_dir",
    "need_file",
    "sorted_files",
    "load_yaml_mapping",
    "clean_text",
    "iso_date",
    "numbered_lines",
    "first_token",
    "counter",
    "csv_rows",
    "strip_compression",
]


def counter(skips: SkipCounter | None) -> SkipCounter:
    """The caller's counter, or a private one so that skips are still logged when nobody asks."""
    return skips if skips is not None else SkipCounter()


def need_dir(path: str | Path, what: str, expected: str) -> Path:
    """``path`` as a directory, or a DataError that says what was missing and what was expected.

    Parameters
    ----------
    path : the folder the user pointed at.
    what : the upstream project in words (``"LOLBAS checkout"``), for the message.
    expected : the layout that was expected inside it, for the message.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{what} not found: {p} does not exist (expected {expected})")
    if not p.is_dir():
        raise DataError(f"{what}: {p} is not a directory (expected {expected})")
    return p


def need_file(path: str | Path, what: str, expected: str) -> Path:
    """``path`` as a regular file, or a DataError naming it and the expected format."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{what} not found: {p} does not exist (expected {expected})")
    if p.is_dir():
        raise DataError(f"{what}: {p} is a directory, expected a file ({expected})")
    return p


def sorted_files(root: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` under ``root`` in path order, so that record order is reproducible."""
    return sorted((p for p in root.glob(pattern) if p.is_file()), key=lambda p: p.as_posix())


def load_yaml_mapping(
    path: Path, where: str, skips: SkipCounter, *, want: Callable[[dict[Any, Any]], bool] | None = None
) -> dict[Any, Any] | None:
    """The first YAML document of ``path`` that is a mapping (and satisfies ``want``), else None.

    Upstream files are front-matter style (``---`` ... ``...``) or plain documents, so every
    document is looked at in order. A syntax error, a non-mapping file or an empty file is a
    counted skip (``yaml_error`` / ``yaml_not_a_mapping`` / ``empty_file``) so that one broken file
    never stops a whole checkout from being read.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        skips.skip("unreadable_file", f"{where}: {exc}")
        return None
    text = decode_bytes(raw)
    if not text.strip():
        skips.skip("empty_file", where)
        return None
    try:
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict) and (want is None or want(doc)):
                return doc
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        skips.skip("yaml_error", f"{where}: {type(exc).__name__}")
        return None
    if want is None:
        skips.skip("yaml_not_a_mapping", where)
    return None


def clean_text(value: Any, where: str, skips: SkipCounter, *, max_chars: int = MAX_LINE_BYTES) -> str | None:
    """The stripped text of one record, or None (counted) when it is missing, not text, blank or over-long.

    Upstream extraction stripped surrounding whitespace and nothing else, so neither do we.
    Numbers are accepted as text (a table column of ids is still text to a model); other types
    (lists, mappings) are a ``non_string_text`` skip. A text longer than ``max_chars`` is a
    ``field_too_long`` skip, as an over-long CSV record or JSON line is: cutting it would keep a record
    that is not what the file holds, and counting a kept record as a skip would break the accounting
    rows in = rows read + rows skipped.
    """
    if value is None:
        skips.skip("missing_text", where)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        skips.skip("non_string_text", where)
        return None
    text = value.strip() if isinstance(value, str) else str(value)
    if not text:
        skips.skip("empty_text", where)
        return None
    if len(text) > max_chars:
        skips.skip("field_too_long", f"{where} ({len(text):,} characters, the cap is {max_chars:,})")
        return None
    return text


def iso_date(value: Any) -> str:
    """An ISO date string from a YAML date, datetime or string; ``""`` when unknown."""
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if value is None:
        return ""
    return str(value).strip()


def numbered_lines(
    stream: IO[bytes], where: str, skips: SkipCounter, *, too_long: str = "line_too_long"
) -> Iterator[tuple[int, str]]:
    """``(0-based line number, line)`` with bounded memory, for formats where a line is a record.

    A line over :data:`MAX_LINE_BYTES` is not yielded: it is drained without being held and counted
    once as ``too_long`` (a cut line is not the record the file holds, and a JSON line cut short would
    be counted a second time as ``json_error``). Line numbers stay those of the file.
    """
    for i, (line, truncated) in enumerate(read_capped_lines(stream)):
        if truncated:
            skips.skip(too_long, f"{where}:{i + 1} (over {MAX_LINE_BYTES:,} bytes)")
            continue
        yield i, line


def first_token(text: str) -> str:
    """The first whitespace-separated token: the derived group for sources without a group field."""
    parts = text.split(maxsplit=1)
    return parts[0] if parts else ""


def csv_rows(
    stream: IO[bytes], where: str, skips: SkipCounter, *, delimiter: str = ",", header: bool = True
) -> Iterator[tuple[int, list[str]]]:
    """``(line number, row)`` of a CSV/TSV stream; every record is yielded or counted, none is lost.

    Records are split by :func:`~distilsec._internal.textio.iter_csv_records`, which follows quoting
    across lines and scans an over-long record to its real end: such a record is one
    ``field_too_long`` skip and the rows after it are read as usual. Rows the csv module rejects are
    ``csv_error``, a quote left open at the end of the file is ``unterminated_quote``; blank lines are
    layout, not rows. The line number is the 1-based line the record starts on.

    With ``header`` (the default) the first record is the caller's header row: when it cannot be
    used the file cannot be read, so that is a :class:`DataError`, not a skip.
    """
    first = header
    for rec in iter_csv_records(stream, delimiter=delimiter):
        if rec.fields is None:
            if first:
                raise DataError(
                    f"{where}: the header row (line {rec.line}) cannot be read ({rec.problem}: {rec.detail}); "
                    "the file must start with one row of column names"
                )
            skips.skip(rec.problem, f"{where}:{rec.line}: {rec.detail}")
            continue
        first = False
        yield rec.line, rec.fields


def strip_compression(name: str) -> str:
    """A file name without its ``.gz`` / ``.xz`` / ``.bz2`` suffix (``a.csv.gz`` -> ``a.csv``)."""
    for suffix in (".gz", ".xz", ".bz2"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
