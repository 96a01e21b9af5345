"""Reading text from files safely: any compression, any encoding, capped sizes."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from distilsec.errors import DataError

__all__ = ["open_binary", "open_text", "read_capped_lines", "decode_bytes", "MAX_LINE_BYTES"]

#: Lines longer than this are truncated when read: a 10 MB single line must not blow up memory
#: downstream, and no model here looks past the first few KB of an event anyway.
MAX_LINE_BYTES = 1 << 20


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file for binary reading, transparently decompressing .gz, .xz and .bz2."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}")
    if p.is_dir():
        raise DataError(f"expected a file, got a directory: {p}")
    suffix = p.suffix.lower()
    if suffix == ".gz":
        return gzip.open(p, "rb")
    if suffix == ".xz":
        return lzma.open(p, "rb")
    if suffix == ".bz2":
        return bz2.open(p, "rb")
    return open(p, "rb")


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
