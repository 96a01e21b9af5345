"""A small, forgiving DOM for rewriting HTML pages: stdlib ``html.parser`` in, a tree, HTML out.

Phishing pages are often broken on purpose (unclosed tags, stray end tags, junk bytes) and sometimes
huge, so the tree builder never raises on a string below the size cap: stray end tags are dropped,
open elements are closed at the end, void elements never take children, and nesting beyond
``MAX_DEPTH`` is flattened. Every walk is iterative, so a page of 100 000 nested ``<div>`` cannot hit
Python's recursion limit.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

from distilsec.errors import DataError

__all__ = ["Element", "Text", "Comment", "Raw", "parse_html", "serialise", "iter_elements", "VOID", "MAX_DEPTH"]

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
#: elements whose content is raw text (never escaped on output).
RAW_TEXT = frozenset({"script", "style"})
#: an open element of these tags is closed by a new one of the same group (``<p>a<p>b``).
_AUTO_CLOSE = {"p": {"p"}, "li": {"li"}, "option": {"option"}, "tr": {"tr"}, "td": {"td", "th"}, "th": {"td", "th"}}
MAX_DEPTH = 256


@dataclass
class Text:
    data: str


@dataclass
class Comment:
    data: str


@dataclass
class Raw:
    """Markup kept verbatim: ``<!DOCTYPE html>``, processing instructions, CDATA sections."""

    data: str


@dataclass
class Element:
    tag: str
    attrs: list[list[str | None]] = field(default_factory=list)
    children: list[Element | Text | Comment | Raw] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.attrs:
            if k == name:
                return v
        return default

    def set(self, name: str, value: str | None) -> None:
        for pair in self.attrs:
            if pair[0] == name:
                pair[1] = value
                return
        self.attrs.append([name, value])

    def text(self) -> str:
        """All text below this element (scripts and styles excluded), joined by spaces."""
        out = []
        for el in iter_elements(self):
            if el.tag in RAW_TEXT:
                continue
            out.extend(c.data for c in el.children if isinstance(c, Text))
        return " ".join(" ".join(out).split())


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self.stack = [self.root]

    def _add(self, node: Element | Text | Comment | Raw) -> None:
        self.stack[-1].children.append(node)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        closes = _AUTO_CLOSE.get(tag)
        if closes and self.stack[-1].tag in closes:
            self.stack.pop()
        el = Element(tag, [[k, v] for k, v in attrs])
        self._add(el)
        if tag not in VOID and len(self.stack) < MAX_DEPTH:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add(Element(tag, [[k, v] for k, v in attrs]))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return
        # a stray end tag: dropped

    def handle_data(self, data: str) -> None:
        self._add(Text(data))

    def handle_comment(self, data: str) -> None:
        self._add(Comment(data))

    def handle_decl(self, decl: str) -> None:
        self._add(Raw(f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self._add(Raw(f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self._add(Raw(f"<![{data}]>"))


def parse_html(text: str, *, max_chars: int = 2_000_000) -> Element:
    """The page as a tree under a ``#document`` root.

    Raises
    ------
    DataError
        ``text`` is not a string, is longer than ``max_chars`` (a 50 MB page is refused before any
        parsing, so it costs no memory beyond the string itself), or the parser gave up on it.
    """
    if not isinstance(text, str):
        raise DataError(f"HTML must be text, got {type(text).__name__}")
    if len(text) > max_chars:
        raise DataError(f"HTML page of {len(text):,} characters is above the cap of {max_chars:,}")
    b = _Builder()
    try:
        b.feed(text)
        b.close()
    except Exception as exc:  # html.parser can assert on hostile declarations; never let it escape
        raise DataError(f"HTML could not be parsed: {type(exc).__name__}: {exc}") from None
    return b.root


def iter_elements(root: Element) -> Iterator[Element]:
    """Every element below ``root`` (``root`` included), document order, iteratively."""
    stack = [root]
    while stack:
        el = stack.pop()
        yield el
        stack.extend(c for c in reversed(el.children) if isinstance(c, Element))


def _start(el: Element) -> str:
    parts = [el.tag]
    for k, v in el.attrs:
        if k is None:
            continue
        parts.append(k if v is None else f'{k}="{html.escape(v, quote=True)}"')
    return "<" + " ".join(parts) + ">"


def serialise(root: Element) -> str:
    """HTML text of the tree (attribute values and text escaped; script/style content verbatim)."""
    out: list[str] = []
    # (node, parent_is_raw) to visit, or ("</tag>") strings to emit after children
    stack: list[object] = [(c, False) for c in reversed(root.children)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node, raw = item  # type: ignore[misc]
        if isinstance(node, Text):
            out.append(node.data if raw else html.escape(node.data, quote=False))
        elif isinstance(node, Comment):
            out.append(f"<!--{node.data}-->")
        elif isinstance(node, Raw):
            out.append(node.data)
        else:
            out.append(_start(node))
            if node.tag in VOID:
                continue
            stack.append(f"</{node.tag}>")
            child_raw = node.tag in RAW_TEXT
            stack.extend((c, child_raw) for c in reversed(node.children))
    return "".join(out)
