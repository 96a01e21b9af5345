"""ATT&CK text as a model should see it: links to names, no citations, entity names made generic, sentences.

ATT&CK descriptions are Markdown written for its website: ``[Explosive](https://attack.mitre.org/software/S0569)
has collected the MAC address.(Citation: CheckPoint Volatile Cedar March 2015)``. Left as is, a model learns
the URL, the citation key and the actor's name, none of which a threat report it later reads carries in
that form: the citation key (``CheckPoint Volatile Cedar March 2015``) names the report, and so the
technique, for every procedure taken from it. :func:`clean_attack_text` keeps the behaviour and drops the
rest; with ``names="generic"`` the names of linked groups, software and campaigns become ``the group``,
``the malware``... so that a model learns what was done, not who did it (the shortcut audit of
:mod:`distilsec.tasks.attack` measures how far a name alone predicts the technique).

:func:`split_sentences` cuts report text into sentences with regular expressions only (thousands of
reports a second, no model download): it knows the dots CTI text is full of (``cmd.exe``, ``10.0.0.1``,
``v1.2``, ``e.g.``, ``U.S.``) and treats Markdown list items, headings and paragraph breaks as boundaries.
It is shared by training (negatives from descriptions) and scoring (``distilsec attack``), so both cut
text the same way.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Literal

__all__ = [
    "clean_attack_text",
    "generic_names",
    "mask_entities",
    "strip_citations",
    "citation_keys",
    "link_targets",
    "split_sentences",
    "GENERIC_NOUNS",
    "attack_id_kind",
]

#: entity kind -> the generic noun that replaces its names (``names="generic"``)
GENERIC_NOUNS: dict[str, str] = {
    "intrusion-set": "the group",
    "group": "the group",
    "malware": "the malware",
    "tool": "the tool",
    "software": "the software",
    "campaign": "the campaign",
}

#: ``[text](url)``; the text may hold one level of brackets, the URL one level of parentheses
_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(((?:[^()\s]|\([^()\s]*\))*)\)")
#: an ATT&CK object URL: groups/G0032, software/S0569, campaigns/C0022, techniques/T1055/011, ...
_ATTACK_URL = re.compile(
    r"attack\.mitre\.org/(?:\w+/)*?(groups|software|campaigns|techniques)/([GSCT]\d{4})(?:/(\d{3}))?"
)
_URL_KIND = {"groups": "group", "software": "software", "campaigns": "campaign", "techniques": "technique"}
_CITATION_START = re.compile(r"\(\s*Citation\s*:", re.IGNORECASE)
#: a marker without parentheses inside (nearly all of them): removed in one pass, no scanning
_SIMPLE_CITATION = re.compile(r"\(\s*Citation\s*:[^()]*\)", re.IGNORECASE)
#: the HTML ATT&CK descriptions use; angle-bracket placeholders (``<PID>``, ``<username>``) are not tags
_HTML_TAG = re.compile(
    r"</?(code|b|i|u|em|strong|br|p|pre|sup|sub|span|div|a|ul|ol|li|tt|kbd|samp|var|h[1-6]|table|tr|td|th|tbody|thead)"
    r"(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
#: tags that end a line (``a<br>b`` is two words, ``<code>a</code>b`` is one)
_BLOCK_TAGS = frozenset({"br", "p", "pre", "div", "ul", "ol", "li", "table", "tr", "td", "th", "tbody", "thead"})


def _tag(m: re.Match[str]) -> str:
    name = m.group(1).lower()
    return "\n" if name in _BLOCK_TAGS or name.startswith("h") else ""


_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([.,;:!?)\]])")
_BLANK_LINES = re.compile(r"\n{3,}")


def attack_id_kind(attack_id: str) -> str:
    """``"group"``, ``"software"``, ``"campaign"`` or ``"technique"`` for an ATT&CK ID (``G0032``...), else ``""``."""
    return {"G": "group", "S": "software", "C": "campaign", "T": "technique"}.get(attack_id[:1].upper(), "")


def link_targets(text: str) -> list[tuple[str, str, str]]:
    """``(link text, ATT&CK ID, kind)`` of every Markdown link to an ATT&CK group, software, campaign or technique.

    Technique IDs come back with their sub-technique part (``T1055.011``); links to other pages are left out.
    """
    out = []
    for m in _LINK.finditer(text):
        u = _ATTACK_URL.search(m.group(2))
        if u is None:
            continue
        aid = u.group(2) + (f".{u.group(3)}" if u.group(3) else "")
        out.append((m.group(1), aid, _URL_KIND[u.group(1)]))
    return out


def strip_citations(text: str) -> str:
    """``text`` without ``(Citation: ...)`` markers, however many in a row and with nested parentheses.

    A regular expression cannot match balanced parentheses (``(Citation: CISA Alert (TA17-163A))``), so each
    marker is scanned to its matching ``)``; an unclosed marker runs to the end of the text (it is a cut
    citation, never behaviour).
    """
    if "itation" not in text:
        return text
    text = _SIMPLE_CITATION.sub(" ", text)
    if "itation" not in text:
        return text
    out: list[str] = []
    pos = 0
    for m in _CITATION_START.finditer(text):
        if m.start() < pos:
            continue
        out.append(text[pos : m.start()])
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        pos = i
        out.append(" ")
    out.append(text[pos:])
    return "".join(out)


_CITATION_KEY = re.compile(r"\(\s*Citation\s*:\s*((?:[^()]|\([^()]*\))+)\)", re.IGNORECASE)


def citation_keys(text: str) -> tuple[str, ...]:
    """The keys of the ``(Citation: KEY)`` markers of ``text``, in order, each once (one level of nested
    parentheses in a key, as in ``CISA Alert (TA17-163A)``)."""
    return tuple(dict.fromkeys(k.strip() for k in _CITATION_KEY.findall(text) if k.strip()))


def _generic(kind: str) -> str:
    return GENERIC_NOUNS.get(kind, "the software")


def generic_names(text: str, kinds: Mapping[str, str] | None = None) -> str:
    """Raw Markdown with the link text of every linked group, software and campaign replaced by a generic noun.

    ``kinds`` maps ATT&CK IDs to entity kinds (``{"S0569": "malware"}``), so that software links become
    ``the malware`` or ``the tool``; without it (or for an unknown ID) software is ``the software``. Links to
    techniques and other pages keep their text. Run it *before* :func:`clean_attack_text` removes the links:
    the link is what marks a name as a name.
    """
    kinds = kinds or {}

    def repl(m: re.Match[str]) -> str:
        u = _ATTACK_URL.search(m.group(2))
        if u is None or u.group(1) == "techniques":
            return m.group(0)
        kind = kinds.get(u.group(2)) or _URL_KIND[u.group(1)]
        return f"[{_generic(kind)}]({m.group(2)})"

    return _LINK.sub(repl, text)


def mask_entities(text: str, names_by_kind: Mapping[str, Iterable[str]], *, min_chars: int = 3) -> str:
    """Plain-text occurrences of the given names replaced by the generic noun of their kind.

    For names a procedure repeats without a link (``[Explosive](...) ... Explosive also ...``) and for
    aliases. Matches are case-sensitive and on word boundaries, longest name first, and names shorter than
    ``min_chars`` are left alone: a tool called ``at`` or ``Net`` must not eat the words of other sentences.
    """
    pairs = sorted(
        ((n, _generic(kind)) for kind, names in names_by_kind.items() for n in names if len(n.strip()) >= min_chars),
        key=lambda p: -len(p[0]),
    )
    if not pairs:
        return text
    nouns = dict(pairs)
    # not inside a token: ``netsh.exe``, ``APT28-like``, ``x.APT28`` keep their names
    pattern = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(n) for n, _ in pairs) + r")(?![\w-]|\.\w)")
    return pattern.sub(lambda m: nouns[m.group(1)], text)


_SENTENCE_START = re.compile(r"(^|[.!?]\s+|\n\s*|^[\s\"'(\[]*)(the (?:group|malware|tool|software|campaign))\b")


def _capitalise_generic(text: str) -> str:
    """``the group`` at the start of the text or of a sentence becomes ``The group``."""
    return _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2)[0].upper() + m.group(2)[1:], text)


def clean_attack_text(
    text: str,
    names: Literal["keep", "generic"] = "keep",
    *,
    kinds: Mapping[str, str] | None = None,
    mask: Mapping[str, Iterable[str]] | None = None,
    keep_lines: bool = False,
) -> str:
    """ATT&CK Markdown as plain text: the behaviour, without links, citations, HTML tags or stray whitespace.

    Parameters
    ----------
    text : a description or procedure example as ATT&CK stores it.
    names : ``"keep"`` leaves entity names; ``"generic"`` replaces linked groups, software and campaigns (and
        the names in ``mask``) by ``the group``, ``the malware``, ``the tool``, ``the campaign``
        (capitalised at a sentence start).
    kinds : ATT&CK ID -> entity kind, so that software links become ``the malware`` / ``the tool``.
    mask : kind -> names replaced wherever they occur as words (``names="generic"`` only), for names a text
        repeats without a link.
    keep_lines : keep line breaks (one blank line at most between paragraphs), so that
        :func:`split_sentences` still sees list items and paragraphs; by default the text is one line.

    Steps: Markdown links -> their text; ``(Citation: ...)`` markers removed (several in a row, nested
    parentheses); HTML tags removed, content kept (``<code>net user</code>`` -> ``net user``); HTML entities
    decoded; Unicode NFC; whitespace collapsed (line breaks too, unless ``keep_lines``), no space before
    punctuation.
    """
    if not text:
        return ""
    if names == "generic":
        text = generic_names(text, kinds)
    elif names != "keep":
        raise ValueError(f"names must be 'keep' or 'generic', got {names!r}")
    text = _LINK.sub(lambda m: m.group(1), text)
    text = strip_citations(text)
    text = _HTML_TAG.sub(_tag, text)
    text = html.unescape(text)
    text = unicodedata.normalize("NFC", text)
    if names == "generic" and mask:
        text = mask_entities(text, mask)
    text = _SPACES.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    if keep_lines:
        text = _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.split("\n"))).strip()
    else:
        text = re.sub(r"\s*\n\s*", " ", text).strip()
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    if names == "generic":
        text = _capitalise_generic(text)
    return text


# --- sentence splitting ---------------------------------------------------------------------------------

#: words whose trailing dot never ends a sentence (compared lower-cased, without the dot)
_ABBREVIATIONS = frozenset(
    (
        *("e.g", "i.e", "eg", "ie", "vs", "cf", "al", "approx", "ca", "resp", "viz", "incl", "est", "dept"),
        *("mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st"),
        *("fig", "figs", "no", "nos", "vol", "pp", "p", "ver", "ref", "refs", "sec"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
        *("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
    )
)
#: a candidate boundary: sentence punctuation (and closing quotes/brackets), whitespace, then what may
#: start a sentence (an upper-case letter, possibly after an opening quote or bracket)
_BOUNDARY = re.compile(r"(\.\.\.|…|[.!?]+)([\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]*[A-Z])")
_WORD_BEFORE = re.compile(r"(\S+)$")
#: a Markdown list item or heading at the start of a line: its marker is dropped, the line is a boundary
_BLOCK_MARKER = re.compile(r"^\s*(?:#{1,6}\s+|[-*+•▪◦‣·]\s+|\d{1,3}[.)]\s+|[a-z][.)]\s+(?=[A-Z]))")
#: a line ending with one of these continues on the next line (a wrapped sentence, not a boundary)
_CONTINUES = re.compile(
    r"(?:[,;(/&-]|\b(?:the|a|an|of|to|and|or|with|by|for|in|on|from|via|using|as|at|into|that|which|is|are|was|were)"
    r")\s*$",
    re.IGNORECASE,
)


def _is_abbreviation(chunk: str) -> bool:
    """Whether the text before a dot ends in a word whose dot is not a sentence end."""
    m = _WORD_BEFORE.search(chunk)
    if m is None:
        return False
    word = m.group(1).lstrip("\"'“‘([").rstrip(".")
    low = word.lower()
    if low in _ABBREVIATIONS:
        return True
    if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", word):  # U.S, e.g, i.e, U.K (the last dot is the one we stand on)
        return True
    return bool(re.fullmatch(r"[A-Z]", word))  # an initial: J. Smith


def _split_block(block: str) -> list[str]:
    """Sentences of one paragraph (no line breaks left in it)."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(block):
        punct = m.group(1)
        if punct == "." and not m.group(2) and _is_abbreviation(block[start : m.start()]):
            continue
        end = m.end(2)
        piece = block[start:end].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = block[start:].strip()
    if tail:
        out.append(tail)
    return out


def _blocks(text: str) -> list[str]:
    """Paragraphs: blank lines, list items and headings start a new one; wrapped lines are joined back."""
    blocks: list[str] = []
    current: list[str] = []
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if not line:
            if current:
                blocks.append(" ".join(current))
                current = []
            continue
        marker = _BLOCK_MARKER.match(line)
        if marker:
            if current:
                blocks.append(" ".join(current))
            current = [line[marker.end() :].strip()]
            continue
        if current:
            prev = current[-1]
            joined = line[0].islower() or (_CONTINUES.search(prev) and not prev.rstrip().endswith((".", ":")))
            if not joined:
                blocks.append(" ".join(current))
                current = []
        current.append(line)
    if current:
        blocks.append(" ".join(current))
    return blocks


def split_sentences(text: str) -> list[str]:
    """The sentences of report text (plain text or Markdown), in order, stripped, none empty.

    Boundaries: ``.``, ``!``, ``?``, ``...`` followed by white space and an upper-case start; blank lines;
    Markdown list items (``-``, ``*``, ``1.``) and headings (``#``), whose markers are dropped; a line break
    unless the line reads as wrapped (the next line starts in lower case, or this one ends with a comma or a
    word like ``the``/``to``). Not boundaries: dots inside tokens (``cmd.exe``, ``10.0.0.1``, ``v1.2``,
    URLs), abbreviations (``e.g.``, ``i.e.``, ``U.S.``, ``Fig.``, initials), a dot before a lower-case word
    or a digit.
    """
    if not text:
        return []
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return [s for block in _blocks(text) for s in _split_block(block)]
