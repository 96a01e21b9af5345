"""A short text view of an HTML page for a text encoder: title, forms and visible text, in that order.

A transformer teacher reads 64-256 tokens. On raw HTML those tokens are the ``<head>``: doctype, meta
tags, stylesheet links and inline CSS, the same on a news article and on a cloned login page. What tells
a phishing page apart is mostly elsewhere: the title (which brand it claims to be), the forms (a
password field, where the form posts to) and the words a visitor reads. :func:`html_view` puts those
first, so that they fall inside the encoder's window.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_view", "html_blocks", "VIEWS", "apply_view"]

#: Characters of the page parsed at most: forms and the start of the body are in the first half megabyte
#: of every shared page, and the parser's cost grows with its input.
MAX_INPUT_CHARS = 512 * 1024
_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg"})
_WS = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")
_MAX_FORM_ITEMS = 24


def _clip(value: str | None, n: int = 60) -> str:
    return _WS.sub(" ", value or "").strip()[:n]


class _ViewParser(HTMLParser):
    """Collects the title, form controls and visible text; ignores script, style and the like."""

    def __init__(self, max_text_chars: int) -> None:
        super().__init__(convert_charrefs=True)
        self.max_text_chars = max_text_chars
        self.title: list[str] = []
        self.forms: list[str] = []
        self.text: list[str] = []
        self.text_len = 0
        self.hidden_depth = 0
        self.in_title = False
        self.in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v for k, v in attrs}
        if tag == "title":
            self.in_title = True
        elif tag == "body":
            self.hidden_depth = 0  # an unclosed <noscript> or <svg> in the head must not hide the page
        elif tag in _HIDDEN:
            self.hidden_depth += 1
        if len(self.forms) >= _MAX_FORM_ITEMS:
            return
        if tag == "form":
            self.forms.append(
                f"form {_clip(a.get('method'), 8).lower() or 'get'} {_clip(a.get('action'), 80) or '(none)'}"
            )
        elif tag in ("input", "select", "textarea"):
            kind = _clip(a.get("type"), 16) or ("text" if tag == "input" else tag)
            label = _clip(a.get("placeholder") or a.get("aria-label") or a.get("name") or a.get("value"), 40)
            self.forms.append(f"{kind} {label}".strip())
        elif tag == "button":
            self.in_button = True
            self.forms.append("button")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <tag/>: record the element, never count it as an open hidden block
        depth = self.hidden_depth
        self.handle_starttag(tag, attrs)
        self.hidden_depth = depth
        self.in_title = self.in_title and tag != "title"
        self.in_button = self.in_button and tag != "button"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag == "button":
            self.in_button = False
        elif tag in _HIDDEN and self.hidden_depth:
            self.hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
            return
        if self.in_button and self.forms and self.forms[-1].startswith("button"):
            self.forms[-1] = _clip(f"{self.forms[-1]} {data}", 60)
        if self.hidden_depth or self.text_len >= self.max_text_chars:
            return
        chunk = _WS.sub(" ", data).strip()
        if chunk:
            self.text.append(chunk)
            self.text_len += len(chunk) + 1


def html_view(html: str, *, max_chars: int = 2048, max_input_chars: int = MAX_INPUT_CHARS) -> str:
    """Title, form controls and visible text of a page, as one line of at most ``max_chars`` characters.

    Parameters
    ----------
    html : the page (any text: a fragment or a non-HTML string is fine).
    max_chars : length of the view; an encoder with 256 tokens reads about 1,000 characters.
    max_input_chars : characters of the page that are parsed.

    Returns
    -------
    str
        ``"title: ... | form: form post login.php; email Email; password Password; button Log in |
        text: ..."`` with empty parts left out; the page itself (whitespace collapsed) when it holds no
        markup the parser recognises.

    Notes
    -----
    The standard library's ``html.parser`` is used: no dependency, tolerant of broken markup, and fast
    enough (hundreds of pages per second on the shared data). It never raises here: on a parser error
    the tags are stripped with a regular expression instead.

    Examples
    --------
    >>> html_view('<title>Sign in</title><form action="p.php" method=post><input type=password name=pw>'
    ...           '<button>Log in</button></form><p>Welcome back</p><script>x=1</script>')
    'title: Sign in | form: form post p.php; password pw; button Log in | text: Log in Welcome back'
    """
    page = html[:max_input_chars]
    parser = _ViewParser(max_chars)
    try:
        parser.feed(page)
        parser.close()
    except Exception:  # noqa: BLE001  (a view must never fail a run; fall back to crude tag stripping)
        return _WS.sub(" ", _TAG.sub(" ", page)).strip()[:max_chars]
    parts = []
    title = _clip(" ".join(parser.title), 200)
    if title:
        parts.append(f"title: {title}")
    if parser.forms:
        parts.append("form: " + "; ".join(parser.forms))
    if parser.text:
        parts.append("text: " + " ".join(parser.text))
    if not parts:
        return _WS.sub(" ", page).strip()[:max_chars]
    return " | ".join(parts)[:max_chars]


#: Elements that start or end a block of text: a heading, a paragraph or a list item is its own unit, so that
#: a sentence splitter never runs a heading into the paragraph under it.
# fmt: off
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "title", "tr", "ul",
})
# fmt: on


class _BlockParser(_ViewParser):
    """The visible text of a page as blocks (title, headings, paragraphs, list items, table cells, lines of
    ``<pre>``): the view parser's rules for what is hidden, plus a boundary at every block element."""

    def __init__(self, max_text_chars: int) -> None:
        super().__init__(max_text_chars)
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.pre_depth = 0

    def _flush(self) -> None:
        text = " ".join(self.current).strip()
        if text:
            self.blocks.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "pre":
            self.pre_depth += 1
        super().handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1
        super().handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.current.append(_WS.sub(" ", data).strip())
            return
        if self.hidden_depth or self.text_len >= self.max_text_chars:
            return
        lines = data.splitlines() if self.pre_depth else [data]
        for i, line in enumerate(lines):
            if i:
                self._flush()  # each line of preformatted text (a command, a log line) is its own block
            chunk = _WS.sub(" ", line).strip()
            if chunk:
                self.current.append(chunk)
                self.text_len += len(chunk) + 1


def html_blocks(html: str, *, max_input_chars: int | None = None) -> list[str]:
    """The visible text of a page as blocks: the title, then headings, paragraphs, list items, cells, in order.

    What a reader sees, for tagging a report page sentence by sentence: script, style and the other hidden
    elements of :func:`html_view` are left out, and every block element ends a block, so that a heading or
    a list item never runs into the next one. Nothing is fetched and no script runs (the standard library's
    parser only tokenises). ``max_input_chars`` bounds the characters parsed (default: all of them).

    Examples
    --------
    >>> html_blocks("<title>APT report</title><script>x=1</script><h2>Execution</h2><ul><li>Ran PowerShell"
    ...             "</li><li>Used <b>cmd</b></li></ul>")
    ['APT report', 'Execution', 'Ran PowerShell', 'Used cmd']
    """
    page = html if max_input_chars is None else html[:max_input_chars]
    parser = _BlockParser(len(page) + 1)
    try:
        parser.feed(page)
        parser.close()
    except Exception:  # noqa: BLE001  (a report must never fail on broken markup; strip the tags instead)
        text = _WS.sub(" ", _TAG.sub(" ", page)).strip()
        return [text] if text else []
    parser._flush()
    return parser.blocks


def _raw(text: str, max_chars: int) -> str:
    return text


#: Views a teacher can be given (``EncoderTeacher(text_view=...)``): the name is stored in its bundle.
VIEWS = {"raw": _raw, "html": lambda text, max_chars: html_view(text, max_chars=max_chars)}


def apply_view(name: str, texts: list[str], max_chars: int) -> list[str]:
    """``texts`` through the named view; a ValueError lists the known views for an unknown name."""
    try:
        fn = VIEWS[name]
    except KeyError:
        raise ValueError(f"unknown text view {name!r}; known: {sorted(VIEWS)}") from None
    return texts if name == "raw" else [fn(t, max_chars) for t in texts]
