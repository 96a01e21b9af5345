"""Decoders for command lines: PowerShell, cmd.exe and Unix-shell obfuscation, turned back into text.

Each decoder finds one trick and returns what it hides, as ``(kind, text)`` pairs; :mod:`.decoded`
feeds what they return back in, so that nested encodings (an ``-EncodedCommand`` whose script holds a
``FromBase64String`` literal) are opened layer by layer. They are regular expressions plus the standard
library's ``base64``: no shell is parsed, nothing is run, and a blob that does not decode to readable
text (a path, a hash, a random token) is skipped.
"""

from __future__ import annotations

import re

from distilsec.data.views._text import b64_text, bytes_text, hex_text, readable

__all__ = ["command_findings"]

_MAX_HITS = 8  # matches of one decoder used per text
_DASH = "[-/\u2013\u2014\u2015]"  # PowerShell accepts '/', '-' and the dashes Word puts in pasted commands
_QSTR = r"(?:'[^'\n]{0,400}'|\"[^\"\n]{0,400}\")"
_ENC_NAME = "(?:ec|e(?:n(?:c(?:o(?:d(?:e(?:d(?:c(?:o(?:m(?:m(?:a(?:n(?:d)?)?)?)?)?)?)?)?)?)?)?)?)?)"
_PS_ENCODED = re.compile(rf"(?i)(?:^|[\s\"'(])(?:{_DASH}){_ENC_NAME}\s+[\"']?([A-Za-z0-9+/=]{{8,}})")
_FROM_B64 = re.compile(r"(?i)FromBase64String\s*\(\s*[\"']([A-Za-z0-9+/=\s]{4,})[\"']")
_PIECE = r"(?:'[^'\s{};|%$]{0,200}'|\"[^\"\s{};|%$]{0,200}\")"  # no spaces: not bash's date +"%s"
_CONCAT = re.compile(rf"{_PIECE}(?:\s*\+\s*{_PIECE})+")
_FORMAT = re.compile(rf"(?i)({_QSTR})\s*-f\s*({_QSTR}(?:\s*,\s*{_QSTR})*)")
_SLOT = re.compile(r"\{(\d{1,3})\}")
_JOIN_AFTER = re.compile(rf"(?i)\(\s*({_QSTR}(?:\s*,\s*{_QSTR})+)\s*\)\s*-join\s*({_QSTR})?")
_JOIN_BEFORE = re.compile(rf"(?i)-join\s*\(\s*({_QSTR}(?:\s*,\s*{_QSTR})+)\s*\)")
_QUOTED = re.compile(r"'([^'\n]*)'|\"([^\"\n]*)\"")
_CODE = r"(?:0x[0-9a-f]{1,6}|\d{1,7})"
_CHAR_ARRAY = re.compile(rf"(?i)\[char\[\]\]\s*\(\s*({_CODE}(?:\s*,\s*{_CODE})+)\s*\)")
_CHAR_SEQ = re.compile(rf"(?i)(?:\[char\]\s*\(?\s*{_CODE}\s*\)?\s*\+?\s*){{2,}}")
_CHAR_CODE = re.compile(r"(?i)0x[0-9a-f]+|\d+")
_TICK = re.compile(r"(?<=[\w-])`(?=\w)")
_TICKED_WORD = re.compile(r"\w`\w+`\w")  # two ticks in a word: not bash's `uname -r` substitution
_CARET_IN_WORD = re.compile(r"\w\^\w+\^\w")  # two carets in a word: not 2^5 nor the ^T key notation
_CARET = re.compile(r"\^(.)", re.S)
_CMD_NAME = "c(?:o(?:m(?:m(?:a(?:n(?:d)?)?)?)?)?)?"
_PATH = r"(?:[\w:.~-]*[\\/])*"
_NESTED = re.compile(
    rf"""(?ix) (?:^|[\s"'&|;(])
    (?: (?P<cmd> {_PATH} cmd(?:\.exe)? ) \s+ (?:/[a-z](?::\w+)?\s+){{0,4}} /[ckr]
      | (?P<ps> {_PATH} (?:powershell|pwsh)(?:\.exe)? ) (?:\s+[^\s]{{1,60}}){{0,6}}? \s+ {_DASH}{_CMD_NAME}
      | (?P<sh> {_PATH} (?:bash|sh|zsh|dash|ksh) ) \s+ (?:-[a-z]+\s+){{0,3}} -[a-z]*c
    ) \s+ (?=\S)"""
)
_ECHO_B64 = re.compile(
    r"(?i)\becho\s+(?:-[ne]+\s+)?[\"']?([A-Za-z0-9+/=_-]{4,})[\"']?\s*\|\s*(?:\S*/)?base64\s+(?:-d|--decode|-D)\b"
)
_HERE_B64 = re.compile(r"(?i)\bbase64\s+(?:-d|--decode|-D)\s*<<<\s*[\"']?([A-Za-z0-9+/=_-]{4,})")
_B64_BLOB = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX_BLOB = re.compile(r"(?<![0-9A-Za-z])(?:0x)?(?:[0-9A-Fa-f]{2}){8,}(?![0-9A-Za-z])")
_ESC_RUN = re.compile(r"(?:\\(?:x[0-9A-Fa-f]{2}|[0-7]{3})){4,}")
_ESC_ONE = re.compile(r"\\x([0-9A-Fa-f]{2})|\\([0-7]{3})")
_ANSI_C = re.compile(r"\$'((?:[^'\\\n]|\\.){1,2000})'")
_ANSI_ESC = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[0-7]{1,3}|.)", re.S)
_ANSI_NUMERIC = re.compile(r"\\(?:x[0-9A-Fa-f]|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[0-7])")
_SIMPLE_ESC = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "v": "\v"}


def _ps_encoded(s: str) -> list[tuple[str, str]]:
    """``powershell -enc <base64>`` (any prefix of ``-EncodedCommand``, or ``-ec``): UTF-16LE script."""
    out = []
    for m in list(_PS_ENCODED.finditer(s))[:_MAX_HITS]:
        text = b64_text(m.group(1), min_chars=2)
        if text:
            out.append(("powershell-encoded", text))
    return out


def _from_base64(s: str) -> list[tuple[str, str]]:
    """``[Convert]::FromBase64String('...')`` literals: UTF-16LE when every other byte is 0, else UTF-8."""
    return [
        ("frombase64", text)
        for m in list(_FROM_B64.finditer(s))[:_MAX_HITS]
        if (text := b64_text(m.group(1), min_chars=2))
    ]


def _parts(group: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in _QUOTED.finditer(group)]


def _joins(s: str) -> list[tuple[str, str]]:
    """``'Inv'+'oke'``, ``('a','b') -join ''`` and ``-join ('a','b')`` as the string they build."""
    out = []
    if "+" in s:
        out += [("joined", "".join(_parts(m.group(0)))) for m in list(_CONCAT.finditer(s))[:_MAX_HITS]]
    if "join" in s.lower():
        for m in list(_JOIN_AFTER.finditer(s))[:_MAX_HITS]:
            sep = "".join(_parts(m.group(2))) if m.group(2) else ""
            out.append(("joined", sep.join(_parts(m.group(1)))))
        out += [("joined", "".join(_parts(m.group(1)))) for m in list(_JOIN_BEFORE.finditer(s))[:_MAX_HITS]]
    return [(k, v) for k, v in out if len(v) >= 2]


def _fill(template: str, args: list[str]) -> str:
    def slot(g: re.Match[str]) -> str:
        i = int(g.group(1))
        return args[i] if i < len(args) else g.group(0)

    return _SLOT.sub(slot, template)


def _formats(s: str) -> list[tuple[str, str]]:
    """PowerShell's format operator, ``("{1}{0}" -f 'ke','Invo')``, as the string it builds."""
    if "{" not in s or "-f" not in s.lower():
        return []
    out = []
    for m in list(_FORMAT.finditer(s))[:_MAX_HITS]:
        template, args = _parts(m.group(1))[0], _parts(m.group(2))
        if _SLOT.search(template):
            text = _fill(template, args)
            if len(text) >= 2:
                out.append(("formatted", text))
    return out


def _chars(s: str) -> list[tuple[str, str]]:
    """``[char]73+[char]69`` and ``[char[]](73,69,88)`` as the characters they spell."""
    if "char" not in s.lower():
        return []
    out = []
    groups = [m.group(1) for m in _CHAR_ARRAY.finditer(s)] + [m.group(0) for m in _CHAR_SEQ.finditer(s)]
    for group in groups[:_MAX_HITS]:
        codes = [int(c, 0) for c in _CHAR_CODE.findall(group)]
        if codes and all(0 < c < 0x110000 for c in codes):
            text = "".join(map(chr, codes))
            if readable(text, min_chars=2):
                out.append(("chars", text))
    return out


def _unescaped(s: str) -> list[tuple[str, str]]:
    """PowerShell backticks inside words (``I`nv`oke``) and cmd.exe carets (``p^o^w^e^r``) removed."""
    out = []
    if "`" in s and _TICKED_WORD.search(s):
        out.append(("unticked", _TICK.sub("", s)))
    if "^" in s and _CARET_IN_WORD.search(s):
        out.append(("uncareted", _CARET.sub(r"\1", s)))
    return out


def _inner_text(rest: str, kind: str) -> str:
    """The command a shell is told to run: the quoted string (cmd.exe: up to the last quote), else the line
    (cmd, PowerShell) or the next word (Unix shells, whose ``-c`` takes one argument)."""
    line = rest.split("\n", 1)[0]
    quote = line[:1]
    if quote in ("'", '"'):
        if kind == "cmd" and quote == '"':
            end = line.rfind('"')
            return line[1:end] if end > 0 else line[1:]
        i = 1
        while i < len(line):
            if line[i] == "\\" and quote == '"':
                i += 2
                continue
            if line[i] == quote:
                return line[1:i]
            i += 1
        return line[1:]
    if kind == "sh":
        return line.split(None, 1)[0]
    return line[:-1] if line.count('"') % 2 and line.endswith('"') else line  # the outer quote's other half


def _nested(s: str) -> list[tuple[str, str]]:
    """The inner command of ``cmd /c "..."``, ``powershell -c "..."``, ``bash -c '...'`` and the like."""
    out = []
    for m in list(_NESTED.finditer(s))[:_MAX_HITS]:
        kind = "cmd" if m.group("cmd") else "ps" if m.group("ps") else "sh"
        inner = _inner_text(s[m.end() :], kind).strip()
        if len(inner) >= 2:
            out.append(("inner", inner))
    return out


def _shell_base64(s: str) -> list[tuple[str, str]]:
    """``echo <b64> | base64 -d`` and ``base64 -d <<< <b64>`` (any length)."""
    if "base64" not in s:
        return []
    hits = list(_ECHO_B64.finditer(s))[:_MAX_HITS] + list(_HERE_B64.finditer(s))[:_MAX_HITS]
    return [("base64", text) for m in hits if (text := b64_text(m.group(1), min_chars=2))]


def _blobs(s: str) -> list[tuple[str, str]]:
    """Free-standing base64 (16+ chars) and hex (16+ digits) blobs, as in ``certutil -decode`` input,
    when they decode to readable text."""
    out = []
    for m in list(_B64_BLOB.finditer(s))[: 4 * _MAX_HITS]:
        text = b64_text(m.group(0))
        if text:
            out.append(("base64", text))
    for m in list(_HEX_BLOB.finditer(s))[: 4 * _MAX_HITS]:
        text = hex_text(m.group(0))
        if text:
            out.append(("hex", text))
    return out


def _ansi_c_char(m: re.Match[str]) -> str:
    e = m.group(1)
    if e[0] in "xuU" and len(e) > 1:
        return chr(min(int(e[1:], 16), 0x10FFFF))
    if e[0] in "01234567":
        return chr(int(e, 8))
    return _SIMPLE_ESC.get(e, e)


def _escapes(s: str) -> list[tuple[str, str]]:
    """Bash ``$'\\x41\\x42'`` strings and runs of ``\\xHH`` / ``\\NNN`` escapes (printf, PowerShell, Python)."""
    if "\\" not in s:
        return []
    out = []
    if "$'" in s:
        for m in list(_ANSI_C.finditer(s))[:_MAX_HITS]:
            body = m.group(1)
            if _ANSI_NUMERIC.search(body):  # \n or \t alone is formatting, not an encoding
                text = _ANSI_ESC.sub(_ansi_c_char, body)
                if text != body and readable(text, min_chars=1):
                    out.append(("escapes", text))
    for m in list(_ESC_RUN.finditer(s))[:_MAX_HITS]:
        raw = bytes(int(h, 16) if h else int(o, 8) & 0xFF for h, o in _ESC_ONE.findall(m.group(0)))
        text = bytes_text(raw)
        if text:
            out.append(("escapes", text))
    return out


_DECODERS = (_ps_encoded, _from_base64, _shell_base64, _joins, _formats, _chars, _unescaped, _nested, _escapes, _blobs)


def command_findings(text: str) -> list[tuple[str, str]]:
    """What the obfuscation in one command line hides, as ``(kind, text)`` pairs in a fixed order.

    Kinds: ``powershell-encoded``, ``frombase64``, ``base64``, ``joined``, ``formatted``, ``chars``, ``unticked``,
    ``uncareted``, ``inner``, ``escapes``, ``hex``. The pairs may repeat each other (the caller
    de-duplicates) and are not decoded further (the caller recurses).

    >>> command_findings("powershell -enc SQBFAFgA")
    [('powershell-encoded', 'IEX')]
    """
    out: list[tuple[str, str]] = []
    for decoder in _DECODERS:
        out += decoder(text)
    return out
