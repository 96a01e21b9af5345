"""One placeholder style for every command-line source, so that placeholder syntax cannot reveal the label.

Each upstream source writes "put your value here" in its own syntax, and each source has one label:

====================  ===========================================  =========
source                placeholder syntax                           label
====================  ===========================================  =========
tldr                  ``{{path/to/file}}``, ``{{[-d|--domain]}}``  benign
                      ``{{file1 file2 ...}}``
NL2Bash               ``/path/to/dir`` (plain text)                benign
Atomic Red Team       ``#{input_file}``                            malicious
LOLBAS                ``{PATH:.exe}``, ``{REMOTEURL}``, ``{CMD}``  malicious
GTFOBins              ``/path/to/input-file``                      malicious
LOOBins               ``<TARGET_IP>``                              malicious
====================  ===========================================  =========

A classifier trained on the raw text learns "``{{`` means benign, ``#{`` means malicious" and scores
well without learning anything about commands. :func:`normalise_placeholders` rewrites every
convention to one neutral surface form that does not depend on the source:

* a placeholder naming a file or path becomes ``file`` (``file.exe`` when the source gives an
  extension hint), a directory becomes ``dir``, a URL becomes ``http://example.com/file[.ext]``,
  an SMB path becomes ``\\\\server\\share\\file[.ext]``, a command becomes ``command``;
* any other placeholder becomes its bare lower-case name, words joined by ``_``
  (``{{user_name}}``, ``#{user_name}`` and ``<USER_NAME>`` all become ``username``);
* tldr option alternatives keep the first alternative (``{{[-d|--domain]}}`` -> ``-d``), tldr
  repetition markers (``...``) are dropped, and tldr example values (``{{100}}``,
  ``{{example.com}}``) keep the value without braces.

The function never looks at the source, so the same text always normalises the same way, at
training time and at scoring time. It is idempotent, never raises on a ``str``, and its output
never contains ``{{``, ``#{`` or ``/path/to/``.
"""

from __future__ import annotations

import re

from distilsec.data.example import Example

__all__ = ["normalise_placeholders", "normalise_example"]

URL_TOKEN = "http://example.com/file"
SMB_TOKEN = "\\\\server\\share"

_URL_WORDS = frozenset({"url", "uri", "remoteurl", "link", "href", "webhook"})
_FILE_WORDS = frozenset({"file", "filename", "filepath", "files", "fname", "filenames"})
_DIR_WORDS = frozenset({"dir", "directory", "folder", "dirname", "dirpath", "dirs", "directories", "folders"})
_PATH_WORDS = frozenset({"path", "paths", "pathname"})
#: name words that double as an extension hint (``#{dll_path}`` -> ``file.dll``)
# fmt: off
_EXT_WORDS = frozenset({
    "exe", "dll", "ps1", "bat", "vbs", "js", "hta", "sct", "xml", "xsl", "inf", "txt", "zip", "sh", "py",
    "so", "dylib", "msi", "cab", "cpl", "ocx", "lnk", "pdf", "docx", "xlsx", "csv", "json", "yml", "yaml",
    "log", "tar", "gz", "dmp", "plist", "sys", "scr", "jar", "rb", "pl", "php",
})
# fmt: on
_SYNONYMS = {
    "cmd": "command",
    "command": "command",
    "user": "username",
    "user_name": "username",
    "pass": "password",
    "passwd": "password",
    "host_name": "hostname",
    "ip": "ip_address",
    "ipaddress": "ip_address",
}
#: LOLBAS-style ``{NAME}`` tokens that are real syntax elsewhere (SendKeys keys, LDAP ``{CLEARTEXT}``).
# fmt: off
_NOT_PLACEHOLDERS = frozenset({
    "ENTER", "TAB", "ESC", "ESCAPE", "BACKSPACE", "BS", "BKSP", "DEL", "DELETE", "INSERT", "INS", "UP",
    "DOWN", "LEFT", "RIGHT", "HOME", "END", "PGUP", "PGDN", "BREAK", "CAPSLOCK", "NUMLOCK", "SCROLLLOCK",
    "PRTSC", "HELP", "CLEARTEXT", "SSHA", "SHA", "MD5", "CRYPT", *(f"F{i}" for i in range(1, 17)),
})
# fmt: on
#: ``<NAME>`` tokens that are real syntax (Perl file handles, here-doc words).
_NOT_ANGLE = frozenset({"STDIN", "STDOUT", "STDERR", "EOF", "ARGV", "DATA", "END"})

# tldr: ``{{...}}`` on one line, with one preceding space eaten when the content vanishes (``{{...}}``).
_TLDR = re.compile(r"( ?)\{\{([^\n]*?)\}\}")
# Atomic Red Team: ``#{input_name}``.
_ATOMIC = re.compile(r"#\{([^{}\n]*)\}")
# LOLBAS: ``{PATH}``, ``{PATH:.exe}``, ``{REMOTEURL:.ps1}``; not ``${VAR}``, ``%{x}``, ``@{x}`` or ``{{``.
_LOLBAS = re.compile(r"(?<![$\w%@{])\{([A-Z][A-Z0-9_]*)(?::([^{}\s]*))?\}")
# LOOBins: ``<TARGET_IP>``, ``<PASSWORD>``; not ``<<EOF`` or key names such as ``<F1>``.
_ANGLE = re.compile(r"(?<![<\w])<([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{3,}[0-9]*)>(?!>)")
# GTFOBins / NL2Bash / tldr: a path that starts ``path/to/`` (or ``path\to\``), optionally ``/``-rooted.
_PATH_STOP = r"\s'\"`;|&<>(){}\[\]*?$,=!"
_PATHTO = re.compile(
    r"(?<![A-Za-z0-9_])(?P<lead>[A-Za-z]:\\|[/\\]?)path(?P<sep>[/\\])to(?P=sep)"
    r"(?P<rest>[^" + _PATH_STOP + r"]*)"
)
# a tldr item that is a ``path/to`` path as a whole: ``{{path/to}}``, ``{{path\to\file}}``, ``{{/path/to/x}}``
_PATH_ITEM = re.compile(r"(?:[A-Za-z]:\\|[/\\])?path(?P<sep>[/\\])to(?:(?P=sep)(?P<rest>.*))?")
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
_EXT = re.compile(r"(?<=[^./\\])\.([A-Za-z0-9]{1,8})$")


def _words(name: str) -> list[str]:
    """Lower-case words of a placeholder name, trailing digits removed (``file1`` -> ``file``)."""
    out = []
    for w in re.split(r"[^a-z0-9]+", name.lower()):
        w = w.rstrip("0123456789")
        if w:
            out.append(w)
    return out


def _concept(words: list[str]) -> str | None:
    """``"url"``, ``"file"``, ``"dir"`` or None: what kind of value a placeholder name asks for."""
    ws = set(words)
    if ws & _URL_WORDS or any("url" in w for w in words):
        return "url"
    if ws & _FILE_WORDS:
        return "file"
    if ws & _DIR_WORDS:
        return "dir"
    if ws & _PATH_WORDS:
        return "file"
    return None


def _with_ext(base: str, ext: str) -> str:
    return f"{base}.{ext.lower()}" if ext else base


def _name_token(name: str, ext: str = "") -> str:
    """The neutral token for a placeholder *name* (tldr, Atomic, LOLBAS and LOOBins all use names)."""
    words = _words(name)
    if not ext:
        ext = next((w for w in words if w in _EXT_WORDS), "")
    kind = _concept(words)
    if kind == "url":
        return _with_ext(URL_TOKEN, ext)
    if kind == "file":
        return _with_ext("file", ext)
    if kind == "dir":
        return "dir"
    bare = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return _SYNONYMS.get(bare, bare) or "value"


def _path_token(rest: str, sep: str) -> str:
    """The neutral token for a ``path/to/<rest>`` path: ``file[.ext]``, ``dir`` or ``dir/``."""
    parts = [p for p in re.split(r"[/\\]", rest) if p]
    if not parts:
        return "dir"
    if rest.endswith(("/", "\\")):
        return "dir" + sep
    last = parts[-1]
    m = _EXT.search(last)
    if m:
        return _with_ext("file", m.group(1))
    return "dir" if _concept(_words(last)) == "dir" else "file"


def _tldr_item(item: str) -> str:
    m = _PATH_ITEM.fullmatch(item)
    if m:
        return _path_token(m.group("rest") or "", m.group("sep"))
    if _IDENT.fullmatch(item):
        return _name_token(item)
    return item  # an example value such as ``100``, ``example.com`` or ``/dev/sdX``: keep it


def _tldr(m: re.Match[str]) -> str:
    content = m.group(2).strip()
    alt = re.fullmatch(r"\[([^\]]*)\]", content)
    if alt:  # ``{{[-d|--domain]}}``: option alternatives
        content = alt.group(1)
    if "|" in content:  # ``{{a|b}}``: value alternatives; keep the first
        content = content.split("|", 1)[0]
    items = [_tldr_item(it) for it in content.split() if it not in ("...", "\u2026")]
    out = " ".join(i for i in items if i)
    return m.group(1) + out if out else ""


def _atomic(m: re.Match[str]) -> str:
    return _name_token(m.group(1))


def _lolbas(m: re.Match[str]) -> str:
    name, hint = m.group(1), m.group(2)
    if name in _NOT_PLACEHOLDERS:
        return m.group(0)
    hint = hint or ""
    ext = ""
    if hint.startswith(".") and len(hint) > 1:
        ext = re.sub(r"[^a-z0-9]", "", hint.rsplit(".", 1)[-1].lower())
    is_dir = hint.lower() in ("folder", "dir", "directory")
    if name.startswith("PATH_SMB"):
        return SMB_TOKEN if is_dir else _with_ext(SMB_TOKEN + "\\file", ext)
    if name.startswith("PATH"):
        return "dir" if is_dir else _with_ext("file", ext)
    if name in ("CMD", "COMMAND"):
        return "command"
    return _name_token(name, ext)


def _angle(m: re.Match[str]) -> str:
    if m.group(1) in _NOT_ANGLE:
        return m.group(0)
    return _name_token(m.group(1))


def _pathto(m: re.Match[str]) -> str:
    rest, sep = m.group("rest"), m.group("sep")
    token = _path_token(rest, sep) if rest else "dir" + sep
    start = m.start()
    before = m.string[start - 1] if start > 0 else ""
    # keep ``/`` when the path continues another one (``~/path/to/x`` -> ``~/file``)
    if m.group("lead") in ("/", "\\") and before in (".", "~"):
        return m.group("lead") + token
    return token


def _step(text: str) -> str:
    # Each pattern needs a literal its match cannot do without; testing for it first is exact, and skips
    # most regex scans on real command lines (scoring runs this on every event).
    if "{{" in text:
        text = _TLDR.sub(_tldr, text)
    if "#{" in text:
        text = _ATOMIC.sub(_atomic, text)
    if "{" in text:
        text = _LOLBAS.sub(_lolbas, text)
    if "<" in text:
        text = _ANGLE.sub(_angle, text)
    if "path" in text:
        text = _PATHTO.sub(_pathto, text)
    return text


def _scrub(text: str) -> str:
    """Break up whatever placeholder syntax is left (unclosed ``{{``, stray ``#{``)."""
    text = re.sub(r"\{\{+", "{ ", text)
    text = text.replace("#{", "# {")
    while "/path/to/" in text:  # cannot happen after _step; kept as a guarantee
        text = text.replace("/path/to/", "/")
    return text


def normalise_placeholders(text: str) -> str:
    """Rewrite every source's placeholder syntax to one neutral form.

    Parameters
    ----------
    text : a command line, raw from any source.

    Returns
    -------
    str
        The text with placeholders replaced (see the module docstring for the mapping). Text that
        is not a placeholder is left unchanged, so real commands (NL2Bash, in-the-wild data) are
        untouched apart from ``/path/to/...`` paths.

    Notes
    -----
    Why: each source's placeholder syntax identifies the source, and the source identifies the
    label; a model that sees the syntax can score well without learning anything about commands.
    Every substitution removes at least one ``{``, ``<`` or ``path/to`` occurrence, so repeating
    them until nothing changes terminates; the final scrub leaves no ``{{``/``#{``/``/path/to/``,
    which makes the function idempotent.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if "{" not in text and "<" not in text and "path" not in text:
        return text  # nothing any pattern or the scrub could match (see _step): most real events
    prev = None
    while prev != text:
        prev, text = text, _step(text)
    return _scrub(text)


def normalise_example(ex: Example) -> Example:
    """``ex`` with placeholder-normalised text (same id, so splits and reports still match it)."""
    return ex.with_text(normalise_placeholders(ex.text))
