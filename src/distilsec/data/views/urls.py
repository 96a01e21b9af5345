"""Decoders for URLs: percent-encoding, punycode hosts, numeric IPv4 hosts, base64 query values, and the
parsed parts (scheme, host, domain, path words, query keys) spelled out.

A phishing URL hides what it is from a reader: ``http://xn--pypal-4ve.com/`` is ``pаypal.com`` with a
Cyrillic ``а``, ``http://0x7f000001/`` is ``127.0.0.1``, ``%2F%2F`` is ``//``. The standard library
(``urllib.parse``, the ``punycode`` codec) reads all of these; a token model does not.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

from distilsec.data.views._text import b64_text

__all__ = ["url_findings", "ipv4_host", "unicode_host", "registrable_domain"]

_MAX_URLS = 8
_MAX_TOKENS = 16
_URL = re.compile(r"(?i)(?<![\w.+-])[a-z][a-z0-9+.-]{1,15}://[^\s\"'<>`^|\\]{1,4096}")
_BARE = re.compile(r"(?i)^[a-z0-9._@%-]+\.[a-z0-9-]{2,63}(?::\d{1,5})?(?:[/?#]\S*)?$")
_TOKEN = re.compile(r"[^\W_]+")
_HOST_CHARS = re.compile(r"^[a-z0-9.\-]+$")
_NUMERIC_PART = re.compile(r"(?i)^(?:0x[0-9a-f]*|[0-9]+)$")
#: Last labels that are file extensions rather than domains: ``cmd.exe`` or ``a.out`` is not a URL.
_EXTENSIONS = (
    "exe dll sys ps1 psm1 psd1 bat cmd vbs vbe js jse wsf wsh hta msc cpl inf ini lnk msi scr txt log "
    "csv json xml yml yaml md py pl rb sh bash zsh so dylib out tmp bak zip gz tgz xz bz2 tar 7z rar "
    "conf cfg plist pkg dmg jar class c h cpp go rs html htm php asp aspx jsp css png jpg gif pdf doc "
    "docx xls xlsx iso img bin dat db sql key pem crt cer der p12 pfx"
)
_NOT_TLD = frozenset(_EXTENSIONS.split())
_SLD = "co com net org gov edu ac ne or go gob mil nic ltd plc"
_SECOND_LEVEL = frozenset(_SLD.split())


def ipv4_host(host: str) -> str | None:
    """A numeric host (``0x7f000001``, ``2130706433``, ``0177.0.0.1``, ``127.1``) as a dotted quad.

    The rules of ``inet_aton``, which browsers follow: 1-4 parts, each decimal, ``0x`` hex or ``0``-led
    octal; the last part fills the bytes left. ``None`` when the host is not such a number.
    """
    parts = host.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_PART.match(p) for p in parts):
        return None
    values = []
    for p in parts:
        try:
            if p[:2].lower() == "0x":
                values.append(int(p[2:] or "0", 16))
            elif len(p) > 1 and p[0] == "0":
                values.append(int(p, 8))
            else:
                values.append(int(p))
        except ValueError:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = last
    for i, v in enumerate(head):
        number += v << (8 * (3 - i))
    return ".".join(str((number >> s) & 0xFF) for s in (24, 16, 8, 0))


def unicode_host(host: str) -> str | None:
    """The host with its punycode labels (``xn--...``) in Unicode; ``None`` when it has none that decode."""
    if "xn--" not in host:
        return None
    labels, changed = [], False
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                labels.append(label[4:].encode("ascii").decode("punycode"))
                changed = True
                continue
            except (UnicodeError, ValueError):
                pass
        labels.append(label)
    return ".".join(labels) if changed else None


def registrable_domain(host: str) -> str:
    """The last two labels of a host, three under a country's ``co.`` / ``com.`` / ``ac.``... (no public
    suffix list: an approximation that is right for most hosts)."""
    labels = [x for x in host.split(".") if x]
    n = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-n:])


def _percent_decoded(url: str) -> str:
    """Percent-decoding repeated (at most 3 times, for ``%2541`` -> ``%41`` -> ``A``), ``+`` as a space
    in the query."""
    for _ in range(3):
        base, q, query = url.partition("?")
        decoded = unquote(base) + (q + unquote_plus(query) if q else "")
        if decoded == url:
            break
        url = decoded
    return url


def _one_url(url: str, *, bare: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    decoded = _percent_decoded(url)
    if decoded != url:
        out.append(("url-decoded", decoded))
    try:
        parts = urlsplit(url if not bare else "http://" + url)
    except ValueError:
        return out
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host = unquote(hostport).lower()
    port = ""
    if host.startswith("["):
        host = host.split("]", 1)[0] + "]"
    elif re.search(r":\d*$", host):
        host, _, port = host.rpartition(":")
    host = host.rstrip(".")
    fields = [] if bare else [f"scheme={parts.scheme.lower()}"]
    if userinfo:
        fields.append(f"userinfo={unquote(userinfo)}")
    fields.append(f"host={host}")
    if port:
        fields.append(f"port={port}")
    ip = ipv4_host(host) if host and host[0].isdigit() else None
    uni = unicode_host(host)
    if ip and ip != host:
        out.append(("host-ip", ip))
    if uni:
        out.append(("host-unicode", uni))
    if not ip and _HOST_CHARS.match(host) and "." in host:
        fields.append(f"domain={registrable_domain(uni or host)}")
    path_tokens = _TOKEN.findall(_percent_decoded(parts.path))[:_MAX_TOKENS]
    if path_tokens:
        fields.append("path=" + " ".join(path_tokens))
    try:
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        query = []
    if query:
        fields.append("query=" + " ".join(k for k, _ in query[:_MAX_TOKENS]))
    for key, value in query[:_MAX_TOKENS]:
        plain = _percent_decoded(value)
        if "://" in plain:  # a redirect target: taken apart in the next layer
            out.append(("query-url", f"{key}={plain}"))
            continue
        text = b64_text(value) if len(value) >= 8 else None
        if text:
            out.append(("query-base64", f"{key}={text}"))
    out.append(("url", " ".join(fields)))  # last: when the budget is short, the decoded parts come first
    return out


def _bare_url(text: str) -> str | None:
    """The text itself when it is one scheme-less URL or host (``paypal.com.x.ru/login``), else ``None``."""
    t = text.strip()
    if len(t) > 4096 or "://" in t or not _BARE.match(t):
        return None
    host = re.split(r"[/?#:]", t.rpartition("@")[2] if "@" in t.split("/", 1)[0] else t, maxsplit=1)[0]
    last = host.rstrip(".").rpartition(".")[2].lower()
    if last in _NOT_TLD or not (last.isalpha() or last.startswith("xn--") or ipv4_host(host)):
        return None
    return t


def url_findings(text: str) -> list[tuple[str, str]]:
    """The URLs in a text (or the text, when it is one scheme-less URL), decoded and taken apart.

    Kinds: ``url`` (``scheme=... host=... domain=... path=... query=...``), ``url-decoded``, ``host-ip``,
    ``host-unicode``, ``query-base64``, ``query-url`` (a redirect target).

    >>> url_findings("http://0x7f000001/login")
    [('host-ip', '127.0.0.1'), ('url', 'scheme=http host=0x7f000001 path=login')]
    """
    if "://" in text:
        return [f for m in list(_URL.finditer(text))[:_MAX_URLS] for f in _one_url(m.group(0), bare=False)]
    bare = _bare_url(text) if "." in text else None
    return _one_url(bare, bare=True) if bare else []
