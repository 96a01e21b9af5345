"""Threat reports in, sentences out: what ``distilsec attack`` (and ``/v1/attack``) tag.

A report is a text, Markdown or HTML file, a folder of them, or standard input. Each is read whole (up to
:data:`MAX_REPORT_BYTES`); Markdown and HTML are turned into *blocks* (a paragraph, a heading, a list item, a
table row, a line of code), plain text is one block; each block is cut into sentences by the splitter the
training data went through (:func:`distilsec.data.attack_text.split_sentences`, which also knows paragraphs,
list items and wrapped lines), and each sentence is cleaned as the training text was (:func:`prepare_sentence`:
Markdown links to their text, no ``(Citation: ...)`` markers, no HTML tags). So the tagger sees at serving
time what it saw in training: one sentence, no link targets, no emphasis markers.

Blocks matter because reports are full of headings and bullet lists without a full stop: joined into the next
paragraph, "Persistence" + "The actor added a Run key" would become one sentence and lend the heading's word
to the wrong technique.

Bad input never ends in a traceback. Counted in a :class:`~distilsec.data.skips.SkipCounter` (reports in =
reports read + reports skipped): ``empty`` (nothing but whitespace), ``binary`` (NUL bytes, or not UTF-8 and
full of control bytes: a PDF, an archive, an executable), ``no_text`` (markup with no visible text),
``too_large`` (over the cap, in a folder), ``unsupported_suffix`` (a file in a folder that is no report).
Kept but changed, counted as notes: ``not_utf8`` (decoded with replacement characters), ``sentence_cut``
(a "sentence" longer than :data:`MAX_SENTENCE_CHARS`, e.g. a table without punctuation, cut), ``line_cut``
(``--per-line``: a line over a megabyte). A file named on the command line that is over the cap is refused
with one :class:`~distilsec.errors.DataError` line.

Nothing is fetched and nothing is run: HTML is tokenised by the standard library's parser, scripts dropped.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = [
    "Report",
    "ReportKind",
    "MAX_REPORT_BYTES",
    "MAX_SENTENCE_CHARS",
    "REPORT_SUFFIXES",
    "STDIN",
    "iter_report_sources",
    "read_report",
    "read_reports",
    "report_kind",
    "markdown_blocks",
    "report_sentences",
    "cap_sentence",
    "prepare_sentence",
    "decode_report",
    "sniff_binary",
    "iter_lines",
]

log = logging.getLogger("distilsec.serving")

#: The largest report read whole (``--max-bytes``): far above any real report (a long PDF-to-text is a few MB),
#: small enough that the text, its sentences and their tags fit in memory on a laptop.
MAX_REPORT_BYTES = 50 * 1024 * 1024
#: The longest sentence tagged; longer ones (a table flattened without punctuation, a hex dump) are cut, and
#: counted: a procedure sentence is rarely over 500 characters, and a linear model reads its first 4,000.
MAX_SENTENCE_CHARS = 1000
#: The name of standard input on the command line.
STDIN = "-"

ReportKind = Literal["text", "markdown", "html"]

#: suffix -> how the file is read; the files of a folder with other suffixes are skipped (counted)
REPORT_SUFFIXES: dict[str, ReportKind] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
}

#: bytes sniffed for binary content (and for the encoding guess of standard input)
_SNIFF = 1 << 16
#: magic numbers -> what the file probably is, to tell a user how to get text out of it
_MAGIC = {
    b"%PDF": "a PDF (convert it to text first, e.g. pdftotext)",
    b"PK\x03\x04": "a ZIP archive or an Office document (save it as text or HTML first)",
    b"\x1f\x8b": "a gzip file (decompress it first)",
    b"\xd0\xcf\x11\xe0": "an old Office document (save it as text or HTML first)",
    b"MZ": "a Windows executable",
    b"\x7fELF": "an ELF executable",
}


@dataclass
class Report:
    """One report ready to tag: where it came from, how it was read, and its sentences in order."""

    name: str
    kind: ReportKind
    sentences: list[str]
    notes: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- finding files


def report_kind(path: str | Path) -> ReportKind | None:
    """How a file is read, from its suffix (None: not a report suffix)."""
    return REPORT_SUFFIXES.get(Path(path).suffix.lower())


def iter_report_sources(sources: Iterable[str], skips: SkipCounter) -> Iterator[tuple[str, bool]]:
    """``(source, named)`` for each report: ``-``, each file named, and the report files of each folder.

    A folder is walked recursively in sorted order (the output is the same on every machine); files whose
    suffix is not in :data:`REPORT_SUFFIXES` are skipped and counted (``unsupported_suffix``), hidden files
    and folders (``.git``) are not looked at. ``named`` is False for files found in a folder: those are
    skipped, not refused, when they are too large. A file named on the command line is read whatever its
    suffix (as text, unless it looks like HTML).
    """
    for source in sources:
        if source == STDIN:
            yield source, True
            continue
        p = Path(source).expanduser()
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            for f in found:
                if report_kind(f) is None:
                    skips.skip("unsupported_suffix", str(f))
                else:
                    yield str(f), False
        elif p.is_file():
            yield str(p), True
        else:
            raise DataError(
                f"report not found: {source} (give a text, Markdown or HTML file, a folder, or - for stdin)"
            )


# ------------------------------------------------------------------------------------------- bytes -> text


def sniff_binary(head: bytes) -> str | None:
    """Why ``head`` (the first bytes of a file) is not text, or None when it may be text."""
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return what
    if b"\0" in head:
        return "a binary file (it holds NUL bytes)"
    return None


def decode_report(raw: bytes, name: str, skips: SkipCounter) -> str | None:
    """The text of a report's bytes, or None when it is binary (skipped, counted as ``binary``).

    UTF-8 (with or without BOM) and UTF-16 with a BOM are decoded as such. Other bytes that are not UTF-8
    are decoded with replacement characters (counted as a ``not_utf8`` note), unless more than 5% of them are
    control bytes: text in a legacy code page has almost none, compressed or executable data about 11%.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM: NUL bytes are expected there
        return raw.decode("utf-16", errors="replace")
    head = raw[:_SNIFF]
    reason = sniff_binary(head)
    if reason is None:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13)) + head.count(127)
        if controls > 0.05 * len(head):
            reason = "a binary file (not UTF-8, full of control bytes)"
    if reason is not None:
        skips.skip("binary", name)
        log.warning("%s is %s: skipped", name, reason)
        return None
    skips.note("not_utf8", name)
    log.warning("%s is not UTF-8: read with replacement characters for the bytes that are not", name)
    return raw.decode("utf-8", errors="replace")


def _read_bytes(source: str, max_bytes: int, named: bool, skips: SkipCounter) -> bytes | None:
    """The bytes of a file or of stdin, at most ``max_bytes``; over it: refused (named) or skipped (in a folder)."""
    what = f"over the {max_bytes:,}-byte cap on a report (--max-bytes)"
    if source == STDIN:
        stream: IO[bytes] = sys.stdin.buffer
        raw = stream.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise DataError(f"standard input is {what}; split the report or raise --max-bytes")
        return raw
    p = Path(source)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            if named:
                raise DataError(f"{p} is {size:,} bytes, {what}; split the report or raise --max-bytes")
            skips.skip("too_large", str(p))
            log.warning("%s is %s bytes, %s: skipped", p, f"{size:,}", what)
            return None
        with open(p, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:  # it grew since stat: the same refusal
        raise DataError(f"{p} is {what}; split the report or raise --max-bytes")
    return raw


# ------------------------------------------------------------------------------------------- text -> blocks

_BULLET = re.compile(r"^\s*(?:[-*+\u2022\u25aa\u25cf\u2023\u2043]|\d{1,3}[.)])\s+(.*)$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+(.*?))?\s*#*\s*$")
_RULE = re.compile(r"^\s{0,3}(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,}|(?:=\s*){3,})$")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image: its alt text
    (re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)"), r"\1"),  # [text](target "title"): the text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # [text][ref]
    (re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>"), r"\1"),  # <https://autolink>
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), " "),  # inline HTML tags
    (re.compile(r"(`+)(.+?)\1"), r"\2"),  # `code`: the code (commands are evidence)
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # **strong**
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *emphasis*
    (re.compile(r"(?<![\w])_(?=\S)(.+?)(?<=\S)_(?![\w])"), r"\1"),  # _emphasis_ (not snake_case)
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # ~~strike~~
]
_WS = re.compile(r"\s+")


def _inline_markdown(line: str) -> str:
    for pattern, repl in _INLINE:
        line = pattern.sub(repl, line)
    return _WS.sub(" ", line).strip()


class _Blocks:
    """Collects lines into blocks: a paragraph keeps its lines (the sentence splitter knows a wrapped line from
    a new one), anything else is a block of its own."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.para: list[str] = []

    def line(self, text: str) -> None:
        if text:
            self.para.append(text)

    def end(self) -> None:
        text = "\n".join(self.para).strip()
        if text:
            self.blocks.append(text)
        self.para = []

    def block(self, text: str) -> None:
        self.end()
        self.para = [text]
        self.end()


def markdown_blocks(text: str) -> list[str]:
    """Blocks of a Markdown report: headings, list items, table rows and code lines each on their own.

    Link targets, images' URLs, emphasis and code markers, fence lines, rules, reference definitions and
    HTML comments are dropped; the words a reader sees stay (link texts, alt texts, the code itself).
    """
    out = _Blocks()
    in_code = False
    for raw in _HTML_COMMENT.sub(" ", text).splitlines():
        if _FENCE.match(raw):
            out.end()
            in_code = not in_code
            continue
        if in_code:
            if raw.strip():
                out.block(raw.strip())
            continue
        line = _QUOTE.sub("", raw)
        if not line.strip():
            out.end()
            continue
        if _RULE.match(line) or _REF_DEF.match(line) or (_TABLE_SEP.match(line) and "|" in line):
            out.end()  # a setext underline (===, ---) also ends its heading line's paragraph
            continue
        m = _HEADING.match(line)
        if m:
            out.block(_inline_markdown(m.group(1) or ""))
            continue
        if line.lstrip().startswith("|"):
            cells = [_inline_markdown(c) for c in line.strip().strip("|").split("|")]
            out.block("; ".join(c for c in cells if c))
            continue
        m = _BULLET.match(line)
        if m:
            out.end()
            out.line(_inline_markdown(m.group(1)))
            continue
        out.line(_inline_markdown(line))
    out.end()
    return out.blocks


def _looks_like_html(text: str) -> bool:
    head = text[:2048].lstrip().lower()
    return head.startswith(("<!doctype html", "<html", "<?xml")) or "<body" in head or "<head" in head


def _blocks(text: str, kind: ReportKind) -> list[str]:
    """Blocks of a report; plain text is one block (the splitter finds its paragraphs and list items)."""
    from distilsec.data.attack_text import strip_citations

    if kind == "html":
        from distilsec.data.html_text import html_blocks

        return html_blocks(strip_citations(text))
    if kind == "markdown":
        return markdown_blocks(strip_citations(text))
    return [strip_citations(text)]


def _splitter() -> Callable[[str], list[str]]:
    """The sentence splitter of the ATT&CK training data (imported on first use)."""
    from distilsec.data.attack_text import split_sentences

    return split_sentences


def prepare_sentence(sentence: str) -> str:
    """One sentence as the tagger's training text was: Markdown links to their text, no ``(Citation: ...)``,
    no HTML tags, entities decoded, whitespace collapsed (:func:`distilsec.data.attack_text.clean_attack_text`)."""
    from distilsec.data.attack_text import clean_attack_text

    return clean_attack_text(sentence)


def cap_sentence(sentence: str, max_chars: int, skips: SkipCounter | None = None, where: str = "") -> str:
    """``sentence`` cut to ``max_chars`` characters (at a space when there is one late enough), counted."""
    if len(sentence) <= max_chars:
        return sentence
    if skips is not None:
        skips.note("sentence_cut", where)
    cut = sentence[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space > max_chars // 2 else cut


def report_sentences(
    text: str,
    kind: ReportKind = "text",
    *,
    max_sentence_chars: int = MAX_SENTENCE_CHARS,
    skips: SkipCounter | None = None,
    where: str = "",
) -> list[str]:
    """The sentences of a report's text, in order: blocks by ``kind``, each split into sentences by the
    training data's splitter, each cleaned as the training text was (:func:`prepare_sentence`) and capped."""
    split = _splitter()
    out = []
    for block in _blocks(text, kind):
        for s in split(block):
            s = prepare_sentence(s)
            if s:
                out.append(cap_sentence(s, max_sentence_chars, skips, where))
    return out


# ------------------------------------------------------------------------------------------- reports


def read_report(
    source: str,
    *,
    max_bytes: int = MAX_REPORT_BYTES,
    max_sentence_chars: int = MAX_SENTENCE_CHARS,
    skips: SkipCounter | None = None,
    named: bool = True,
) -> Report | None:
    """One report (a file, or ``-`` for stdin) as sentences; None when it was skipped (counted in ``skips``).

    Raises
    ------
    DataError : a file named on the command line (``named``) or stdin is over ``max_bytes``, or unreadable.
    """
    skips = skips if skips is not None else SkipCounter()
    name = "<stdin>" if source == STDIN else source
    before = dict(skips.notes)
    raw = _read_bytes(source, max_bytes, named, skips)
    if raw is None:
        return None
    text = decode_report(raw, name, skips)
    if text is None:
        return None
    if not text.strip():
        skips.skip("empty", name)
        log.warning("%s is empty: skipped", name)
        return None
    kind = report_kind(source) if source != STDIN else None
    if kind is None:  # stdin, or a file named with another suffix: text, unless it is plainly a web page
        kind = "html" if _looks_like_html(text) else "text"
    sentences = report_sentences(text, kind, max_sentence_chars=max_sentence_chars, skips=skips, where=name)
    if not sentences:
        skips.skip("no_text", name)
        log.warning("%s has no visible text: skipped", name)
        return None
    notes = {k: v - before.get(k, 0) for k, v in skips.notes.items() if v - before.get(k, 0)}
    return Report(name, kind, sentences, notes)


def read_reports(
    sources: Iterable[str],
    *,
    max_bytes: int = MAX_REPORT_BYTES,
    max_sentence_chars: int = MAX_SENTENCE_CHARS,
    skips: SkipCounter | None = None,
) -> Iterator[Report]:
    """Every report of ``sources`` (files, folders, ``-``), read one at a time; skipped ones are counted."""
    skips = skips if skips is not None else SkipCounter()
    for source, named in iter_report_sources(sources, skips):
        report = read_report(
            source, max_bytes=max_bytes, max_sentence_chars=max_sentence_chars, skips=skips, named=named
        )
        if report is not None:
            yield report


def iter_lines(
    source: str,
    *,
    skips: SkipCounter | None = None,
    max_sentence_chars: int = MAX_SENTENCE_CHARS,
) -> Iterator[str | None]:
    """Each line of a file (or ``-``) as one sentence, prepared and capped; None for a blank line.

    The ``--per-line`` input: read line by line with bounded memory (a line over a megabyte is cut, noted as
    ``line_cut``), so a file of any length streams through. A binary file yields nothing (skipped, counted
    as ``binary``); one that is not UTF-8 is read with replacement characters (noted as ``not_utf8``); an
    empty one is counted as ``empty``. Compressed files (``.gz``, ``.xz``, ``.bz2``) are read as their text.
    """
    from distilsec._internal.textio import open_binary, read_capped_lines

    skips = skips if skips is not None else SkipCounter()
    name = "<stdin>" if source == STDIN else source
    stream: IO[bytes] = sys.stdin.buffer if source == STDIN else open_binary(source)
    if not hasattr(stream, "peek"):  # a test runner's stdin (BytesIO): buffered, to look at the start
        stream = io.BufferedReader(stream)  # type: ignore[arg-type]
    try:
        head = stream.peek(_SNIFF)[:_SNIFF]  # type: ignore[attr-defined]
        reason = (
            "UTF-16 text (convert it to UTF-8 first, e.g. iconv -f UTF-16 -t UTF-8)"
            if head.startswith((b"\xff\xfe", b"\xfe\xff"))
            else sniff_binary(head)
        )
        if reason is not None:
            skips.skip("binary", name)
            log.warning("%s is %s: skipped", name, reason)
            return
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError:
            skips.note("not_utf8", name)
            log.warning("%s is not UTF-8: read with replacement characters for the bytes that are not", name)
        n = 0
        for line, truncated in read_capped_lines(stream):
            n += 1
            if truncated:
                skips.note("line_cut", f"{name}:{n}")
            text = prepare_sentence(line) if line.strip() else ""
            yield cap_sentence(text, max_sentence_chars, skips, f"{name}:{n}") if text else None
        if not n:
            skips.skip("empty", name)
            log.warning("%s is empty: skipped", name)
    finally:
        if source != STDIN:
            stream.close()
