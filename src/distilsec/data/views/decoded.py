"""``decoded.v1``: the raw text, then what its encodings hide, for a teacher that can afford to look.

Learning using privileged information: at training time the teacher reads more than the student will
ever have. Decoding a PowerShell ``-EncodedCommand``, opening a ``cmd /c "..."``, reading a punycode
host or a phishing form costs regular expressions and a parser per sample, fine once per training
sample, too slow (and too easy to game) for the student at scoring time. The student reads the raw
string only; its soft labels come from a teacher that saw the decoded view.

The view is the original text unchanged, then :data:`SEPARATOR`, then one ``kind: text`` line per
finding, so that a model trained on the view still reads the raw text first. A text in which nothing
decodes is returned as it is. The view is deterministic, never raises, and bounded: only the first
:data:`~distilsec.data.views._text.MAX_SCAN_CHARS` characters are searched, nested encodings are opened
:data:`MAX_DEPTH` layers deep, and the part added (separator included) is at most ``3 x len(text)`` and
at most :data:`MAX_EXTRA_CHARS` characters: the whole view is at most 4x the text, and at most 16 KB more.
The lines are cut to fit, in order, so the decodings a decoder lists first survive a tight budget.
"""

from __future__ import annotations

from distilsec.data.views._text import MAX_SCAN_CHARS, squash
from distilsec.data.views.commands import command_findings
from distilsec.data.views.html import html_findings
from distilsec.data.views.urls import url_findings

__all__ = ["decoded_v1", "findings", "SEPARATOR", "MAX_DEPTH", "MAX_EXTRA_CHARS", "MAX_FINDINGS"]

SEPARATOR = "\n[decoded]\n"
#: Layers of nested encoding opened: a decoded text is searched again, and what that finds, once more.
MAX_DEPTH = 3
#: Characters added after the raw text at most, separator included (and at most 3x the text).
MAX_EXTRA_CHARS = 16 * 1024
EXTRA_RATIO = 3
#: Findings kept per text at most (also bounds the work: each one is searched once more).
MAX_FINDINGS = 48


def findings(text: str) -> list[tuple[str, str]]:
    """Every ``(kind, text)`` the decoders find in ``text``, nested layers included, each text once.

    Depth-first, in the decoders' fixed order, so the result is deterministic. Texts are whitespace-
    squashed to one line; a finding equal to the raw text (or to an earlier finding) is dropped.
    """
    scan = text[:MAX_SCAN_CHARS]
    seen = {squash(scan)}
    found: list[tuple[str, str]] = []

    def visit(s: str, depth: int) -> None:
        page = html_findings(s) if depth == 0 else []
        # a page's own URLs (stylesheets, images...) would crowd out its sections: its links are listed there
        items = page + command_findings(s) + ([] if page else url_findings(s))
        for kind, value in items:
            if len(found) >= MAX_FINDINGS:
                return
            line = squash(value)
            if not line or line in seen:
                continue
            seen.add(line)
            found.append((kind, line))
            if depth + 1 < MAX_DEPTH and not kind.startswith("html-"):
                visit(value[:MAX_SCAN_CHARS], depth + 1)

    visit(scan, 0)
    return found


def decoded_v1(text: str) -> str:
    """The raw text, then ``"\\n[decoded]\\n"`` and one ``kind: text`` line per decoded part.

    Returns the text unchanged when nothing decodes. Never raises: on an unexpected error in a decoder
    the raw text is returned (a view must not fail a training run).

    >>> decoded_v1("powershell -enc SQBFAFgA")
    'powershell -enc SQBFAFgA\\n[decoded]\\npowershell-encoded: IEX'
    >>> decoded_v1("ls -la")
    'ls -la'
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    try:
        items = findings(text)
    except Exception:  # noqa: BLE001  (never fail a run on one odd sample: the raw text is a valid view)
        return text
    if not items:
        return text
    budget = min(MAX_EXTRA_CHARS, EXTRA_RATIO * len(text)) - len(SEPARATOR)
    lines: list[str] = []
    used = 0
    for kind, value in items:
        room = budget - used - (1 if lines else 0)
        if room <= len(kind) + 3:
            break
        line = f"{kind}: {value}"[:room]
        used += len(line) + (1 if lines else 0)
        lines.append(line)
    return text + SEPARATOR + "\n".join(lines) if lines else text
