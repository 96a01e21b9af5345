"""Reading text from files safely: any compression, any encoding, capped sizes."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from distilsec.errors import DataError

__all__ = [
    "open_binary",
    "open_text",
    "read_capped_lines",
    "decode_bytes",
    "iter_csv_records",
    "CsvRecord",
    "MAX_LINE_BYTES",
]

#: The cap on one line or CSV record: a 10 MB line must not blow up memory downstream, and no model here
#: looks past the first few KB of an event anyway. :func:`read_capped_lines` cuts a longer line (scoring
#: keeps every row, to keep its output aligned); the training readers skip the record, counted.
MAX_LINE_BYTES = 1 << 20

#: block size of buffered reads and of the CSV record splitter
_CHUNK = 1 << 16

#: suffix -> (decompressing file class, format name for messages)
_DECOMPRESSORS: dict[str, tuple[Callable[[Path, str], IO[bytes]], str]] = {
    ".gz": (gzip.GzipFile, "gzip"),
    ".xz": (lzma.LZMAFile, "xz"),
    ".bz2": (bz2.BZ2File, "bzip2"),
}
#: what the decoders raise on bad data: a cut stream is an EOFError, a plain file named .gz a BadGzipFile
#: (an OSError), a bad deflate block a zlib.error, a bad xz stream an LZMAError
_DECODER_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error)


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file for binary reading, transparently decompressing .gz, .xz and .bz2.

    A compressed stream is wrapped so that its decoder's errors (a truncated download, a plain file
    named ``.gz``, corrupt data) surface as one :class:`~distilsec.errors.DataError` naming the file
    and the fix, instead of ``EOFError`` (which the CLI framework turns into a bare "Aborted!") or a
    ``BadGzipFile`` traceback. A 0-byte file reads as empty whatever its name, so that an empty
    ``.xz`` is an empty file like an empty ``.gz`` (the decoders disagree on that).
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}")
    if p.is_dir():
        raise DataError(f"expected a file, got a directory: {p}")
    found = _DECOMPRESSORS.get(p.suffix.lower())
    if found is None:
        return open(p, "rb")
    if p.stat().st_size == 0:
        return io.BytesIO(b"")
    cls, kind = found
    return io.BufferedReader(_CheckedStream(cls(p, "rb"), p, kind), buffer_size=_CHUNK)


class _CheckedStream(io.RawIOBase):
    """The raw side of a decompressing stream whose decoder errors become one actionable :class:`DataError`.

    It is read through an :class:`io.BufferedReader` (see :func:`open_binary`), so that the check costs
    one Python call per 64 KiB block rather than one per line. It counts the bytes and lines it has
    decompressed, so that the message can say how far the file was readable (``after 1,612 lines``):
    a user then knows the file is cut, not the reader broken.
    """

    def __init__(self, inner: IO[bytes], path: Path, kind: str) -> None:
        super().__init__()
        self._inner = inner
        self._path = path
        self._kind = kind
        self.bytes_out = 0
        self.lines_out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._inner.read1(len(view))  # type: ignore[attr-defined]  # what is ready: exact progress
        except _DECODER_ERRORS as exc:
            raise self._error(exc) from None
        n = len(data)
        view[:n] = data
        self.bytes_out += n
        self.lines_out += data.count(b"\n")
        return n

    def _error(self, exc: BaseException) -> DataError:
        name = self._path.suffix.lower()
        where = f"after {self.lines_out:,} lines ({self.bytes_out:,} bytes decompressed)"
        if isinstance(exc, EOFError):
            return DataError(
                f"{self._path}: {self._kind} stream ended early {where}: the file is truncated; re-download it"
            )
        if self.bytes_out == 0:
            return DataError(
                f"{self._path}: not {'an' if self._kind == 'xz' else 'a'} {self._kind} file although its name "
                f"ends in {name} ({exc}); "
                f"compress it with {self._kind}, or rename it without {name} if it is plain text"
            )
        return DataError(f"{self._path}: corrupt {self._kind} data {where} ({exc}); re-download it")

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


def decode_bytes(raw: bytes) -> str:
    """Decode bytes as UTF-8 (with BOM), replacing undecodable bytes instead of failing.

    Security data is often not valid UTF-8 (binary garbage, other code pages): a replacement
    character keeps the record and its position, which is better than dropping it silently.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", errors="replace")


def open_text(path: str | Path) -> io.TextIOWrapper:
    """Open a (possibly compressed) file as UTF-8 text with replacement of bad bytes."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors="replace", newline="")


def read_capped_lines(stream: IO[bytes], max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[str, bool]]:
    """Yield ``(line, truncated)`` from a binary stream with bounded memory per line.

    A line longer than ``max_bytes`` is cut at ``max_bytes`` and the rest is skipped without
    being held in memory; ``truncated`` tells the caller so that it can count it.
    """
    while True:
        chunk = stream.readline(max_bytes + 1)
        if not chunk:
            return
        truncated = False
        if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
            truncated = True
            chunk = chunk[:max_bytes]
            while True:  # drain the rest of the long line
                rest = stream.readline(max_bytes)
                if not rest or rest.endswith(b"\n"):
                    break
        yield decode_bytes(chunk).rstrip("\r\n"), truncated


# ------------------------------------------------------------------------------------------------ CSV


class CsvRecord(NamedTuple):
    """One logical CSV record: its fields, or why it could not be used.

    ``line`` is the 1-based physical line the record starts on. ``fields`` is None exactly when
    ``problem`` is set: ``field_too_long`` (the record is over the byte cap; it was scanned to its end
    without being kept), ``csv_error`` (the csv module rejected it) or ``unterminated_quote`` (a quote
    opened and never closed before the end of the file). ``detail`` says more, for the log.
    """

    line: int
    fields: list[str] | None
    problem: str = ""
    detail: str = ""


_START, _UNQUOTED, _QUOTED = 0, 1, 2
_QUOTE = ord('"')
_BOM = b"\xef\xbb\xbf"


def _record_end(buf: bytes, pos: int, state: int, delim: int, stop: re.Pattern[bytes]) -> tuple[int, int]:
    """Scan ``buf`` from ``pos``: ``(index of the record's terminator or -1, state at that point)``.

    The states mirror the csv module's parser (``doublequote``, no escape character, not strict), so
    that records end exactly where csv ends them: a quote opens a quoted field only at the start of a
    field; inside one, ``""`` is a literal quote and a lone quote closes it; after it, as at the start
    of a field, a delimiter starts the next field and CR or LF ends the record. "After a closing
    quote" and "at the start of a field" react to every byte alike, so they share one state.
    """
    n = len(buf)
    while pos < n:
        if state == _QUOTED:
            j = buf.find(b'"', pos)
            if j < 0:
                return -1, _QUOTED
            pos, state = j + 1, _START
        elif state == _UNQUOTED:
            m = stop.search(buf, pos)
            if m is None:
                return -1, _UNQUOTED
            if buf[m.start()] != delim:
                return m.start(), _START
            pos, state = m.end(), _START
        else:
            c = buf[pos]
            if c == _QUOTE:
                pos, state = pos + 1, _QUOTED
            elif c == delim:
                pos += 1
            elif c in (10, 13):
                return pos, _START
            else:
                state = _UNQUOTED
    return -1, state


def _parse_record(raw: bytes, line: int, delimiter: str) -> CsvRecord | None:
    """Fields of one complete record (None for a blank line, which is layout, not a record)."""
    text = raw.decode("utf-8", errors="replace")
    if delimiter not in text and not text.strip():  # a blank line (but a line of delimiters is a row)
        return None
    if '"' not in text:  # nothing to unquote: csv would split on the delimiter and nothing else
        return CsvRecord(line, text.split(delimiter))
    try:
        rows = list(csv.reader((text,), delimiter=delimiter))
    except csv.Error as exc:
        return CsvRecord(line, None, "csv_error", str(exc))
    if len(rows) != 1:
        return CsvRecord(line, None, "csv_error", f"parsed as {len(rows)} rows")
    return CsvRecord(line, rows[0])


def iter_csv_records(
    stream: IO[bytes], *, delimiter: str = ",", max_bytes: int = MAX_LINE_BYTES
) -> Iterator[CsvRecord]:
    """Split a binary CSV/TSV stream into records with bounded memory; every record is accounted for.

    Parameters
    ----------
    stream : the binary stream (e.g. from :func:`open_binary`); a UTF-8 BOM at its start is dropped.
    delimiter : one ASCII character (``,`` or ``\\t``).
    max_bytes : the cap on one record's bytes (line terminators inside quotes included).

    Returns
    -------
    Iterator[CsvRecord]
        One item per record, in file order; blank lines yield nothing. Records may span lines
        (quoted newlines); CRLF, LF and bare CR end records, as in the csv module.

    Notes
    -----
    Why not ``csv.reader`` over capped lines: cutting a line inside a quoted field loses its closing
    quote, and the parser then takes every following line into that field until its own size limit
    fires: one 5 MB field swallowed half a file. Here record boundaries are found on the raw bytes with
    the csv module's own quoting rules, so an over-long record is scanned to its true end without being
    kept, reported as ``field_too_long``, and the next record starts where it should. Only records
    within the cap are handed to ``csv.reader`` for unquoting.
    """
    if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n':
        raise ValueError(f"delimiter must be one ASCII character other than a quote or newline, not {delimiter!r}")
    if csv.field_size_limit() <= max_bytes:  # csv's default (128 KiB) is below the record cap; only ever raised
        csv.field_size_limit(max_bytes + 1)
    delim = ord(delimiter)
    stop = re.compile(b"[" + re.escape(delimiter.encode()) + b"\r\n]")
    parts: list[bytes] = []
    size = 0
    too_long = False
    state = _START
    line = 1  # physical line of the current position
    start = 0  # line the current record started on; 0 = no record in progress
    eat_lf = False  # the last chunk ended in CR: a LF starting the next one belongs to it
    first = True
    while True:
        buf = stream.readline(_CHUNK)
        if not buf:
            break
        pos = 0
        if first:
            first = False
            if buf.startswith(_BOM):
                pos = len(_BOM)
        if eat_lf:
            eat_lf = False
            if buf.startswith(b"\n"):
                pos, line = 1, line + 1
        # fast path: a whole line that holds no quote or stray CR is one record as it stands
        if not start and state == _START and pos == 0 and buf[-1:] == b"\n" and b'"' not in buf:
            body = buf[:-2] if buf[-2:-1] == b"\r" else buf[:-1]
            if b"\r" not in body:
                line += 1
                if len(body) > max_bytes:
                    yield CsvRecord(line - 1, None, "field_too_long", f"record over {max_bytes:,} bytes")
                    continue
                text = body.decode("utf-8", errors="replace")
                if delimiter in text or text.strip():  # csv would split on the delimiter and nothing else
                    yield CsvRecord(line - 1, text.split(delimiter))
                continue
        while pos < len(buf):
            if not start:
                start = line
            end, state = _record_end(buf, pos, state, delim, stop)
            seg = buf[pos:] if end < 0 else buf[pos:end]
            if not too_long:
                size += len(seg)
                if size > max_bytes:
                    too_long = True
                    parts.clear()
                else:
                    parts.append(seg)
            if end < 0:
                line += buf.count(b"\n", pos)
                break
            if too_long:
                yield CsvRecord(start, None, "field_too_long", f"record over {max_bytes:,} bytes")
            else:
                rec = _parse_record(b"".join(parts), start, delimiter)
                if rec is not None:
                    yield rec
            parts, size, too_long, start = [], 0, False, 0
            pos = end + 1
            if buf[end] == 10:
                line += 1
            elif pos == len(buf):
                eat_lf = True
            elif buf[pos] == 10:
                pos, line = pos + 1, line + 1
    if start:
        yield from _last_record(parts, start, line, state, too_long, delimiter, max_bytes)


def _last_record(
    parts: list[bytes], start: int, line: int, state: int, too_long: bool, delimiter: str, max_bytes: int
) -> Iterator[CsvRecord]:
    """The record the file ends in without a line terminator."""
    if state == _QUOTED:
        yield CsvRecord(start, None, "unterminated_quote", f"a quoted field opened on line {start} never closes")
    elif too_long:
        yield CsvRecord(start, None, "field_too_long", f"record over {max_bytes:,} bytes")
    else:
        rec = _parse_record(b"".join(parts), start, delimiter)
        if rec is not None:
            yield rec
