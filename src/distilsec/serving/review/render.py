"""Attacker-controlled text, shown inertly: as text, with every invisible or misleading character made visible.

The page's templates escape HTML (Jinja2 autoescape) and never turn text into links; this module deals with
what escaping leaves: characters that change how text *looks* without being markup. A command line with a
right-to-left override can read as another command ("Trojan Source"); a NUL, an escape sequence or a
zero-width space hides what follows; bytes that were not UTF-8 (decoded with ``surrogateescape``) cannot
even be encoded into a UTF-8 page. Each becomes a visible marker such as ``\\u202e`` or ``\\xff``, in its
own segment so the page can style it apart. Tabs and newlines stay as they are (a command has lines).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["Segment", "inert_segments", "marker"]

#: what the page shows of one item by default (the rest is a download); a MB-long line stays responsive
DEFAULT_LIMIT = 64 * 1024
_KEEP = {"\n", "\t"}


@dataclass(frozen=True)
class Segment:
    """A run of plain text (``escape`` False) or one visible marker of a hidden character."""

    text: str
    escape: bool = False


def marker(ch: str) -> str | None:
    """The visible form of a character that must not be shown as itself (None: show it)."""
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:
        return f"\\u{code:04x}"
    if ch == "\ufffd":
        return "\\ufffd"  # a byte the reader could not decode (errors="replace")
    if ch in _KEEP:
        return None
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cf", "Co", "Cn", "Zl", "Zp") or (cat == "Zs" and ch != " "):
        return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"
    return None


def inert_segments(text: str, limit: int = DEFAULT_LIMIT) -> tuple[list[Segment], int, int]:
    """``(segments, shown, total)``: the first ``limit`` characters of ``text`` as segments, how many of
    them are shown and how many the text has."""
    total = len(text)
    shown = text[:limit]
    out: list[Segment] = []
    start = 0
    for i, ch in enumerate(shown):
        m = marker(ch)
        if m is None:
            continue
        if i > start:
            out.append(Segment(shown[start:i]))
        out.append(Segment(m, escape=True))
        start = i + 1
    if start < len(shown):
        out.append(Segment(shown[start:]))
    return out, len(shown), total


def plain(text: str, limit: int = 300) -> str:
    """A one-line, marker-escaped snippet (lists of items, similar examples)."""
    segs, shown, total = inert_segments(text[:limit], limit)
    line = "".join(s.text for s in segs).replace("\n", " \u23ce ").replace("\t", " ")
    return line + ("\u2026" if total > shown or len(text) > limit else "")
