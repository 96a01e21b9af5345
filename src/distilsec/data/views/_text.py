"""Shared limits and decoding helpers of the views: base64 / hex blobs to text, printable checks.

Every helper returns ``None`` (never raises) when a blob does not decode to readable text: a view turns
what it can read into text and skips the rest, so random tokens that happen to be valid base64 or hex
(paths, hashes, identifiers) add nothing.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = [
    "MAX_SCAN_CHARS",
    "MAX_BLOB_CHARS",
    "squash",
    "readable",
    "bytes_text",
    "b64_text",
    "hex_text",
]

#: Characters of a text searched for encodings: what a command line or URL is made of fits in this, and it
#: bounds the cost of a 5 MB input to that of a 64 KB one.
MAX_SCAN_CHARS = 64 * 1024
#: Characters of one base64 / hex blob decoded at most (a longer blob is cut to this, on a 4-char boundary).
MAX_BLOB_CHARS = 32 * 1024

_WS = re.compile(r"\s+")
_B64_SPACE = re.compile(r"[\s\"'`^]+")
_URLSAFE = str.maketrans("-_", "+/")


def squash(value: str) -> str:
    """Whitespace runs to one space, ends stripped: every finding is one line of the view."""
    return _WS.sub(" ", value).strip()


def readable(text: str, min_chars: int = 4) -> bool:
    """Whether decoded bytes are text a person (or a text encoder) can read, not binary noise.

    At least ``min_chars`` characters, no control character other than whitespace, and at least half of
    the characters letters, digits or spaces.
    """
    if len(text) < min_chars:
        return False
    if not _WS.sub("", text).isprintable():
        return False
    good = sum(1 for c in text if c.isalnum() or c == " ")
    return good * 2 >= len(text)


def bytes_text(raw: bytes, min_chars: int = 4) -> str | None:
    """Decoded bytes as text: UTF-16LE when every other byte is 0 (PowerShell), else UTF-8; ``None`` if unreadable."""
    if not raw:
        return None
    odd = raw[1::2]
    text: str | None = None
    if len(raw) >= 4 and odd.count(0) * 10 >= len(odd) * 9 and raw[0::2].count(0) * 2 < len(odd):
        text = raw[: len(raw) - len(raw) % 2].decode("utf-16-le", errors="replace")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    text = text.lstrip("\ufeff").rstrip("\x00")
    return text if readable(text, min_chars) else None


def b64_text(blob: str, min_chars: int = 4) -> str | None:
    """A base64 (or URL-safe base64) blob decoded to readable text; ``None`` when invalid or binary.

    Whitespace, quotes, backticks and carets inside the blob are dropped (a blob split over lines or
    escaped for cmd.exe); missing ``=`` padding is restored.
    """
    core = _B64_SPACE.sub("", blob).rstrip("=").translate(_URLSAFE)
    if len(core) > MAX_BLOB_CHARS:
        core = core[: MAX_BLOB_CHARS - MAX_BLOB_CHARS % 4]
    rem = len(core) % 4
    if rem == 1 or len(core) < 2:
        return None
    core += "=" * ((4 - rem) % 4)
    try:
        raw = base64.b64decode(core, validate=True)
    except (binascii.Error, ValueError):
        return None
    return bytes_text(raw, min_chars)


def hex_text(blob: str, min_chars: int = 4) -> str | None:
    """A hex blob (``41424344``, optionally ``0x``-prefixed) decoded to readable text, else ``None``."""
    core = blob[2:] if blob[:2].lower() == "0x" else blob
    core = core[:MAX_BLOB_CHARS]
    if len(core) % 2:
        return None
    try:
        raw = bytes.fromhex(core)
    except ValueError:
        return None
    return bytes_text(raw, min_chars)
