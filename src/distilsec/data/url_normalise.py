"""One surface form for URLs, so that the list format of each source cannot reveal the label.

The URL sources differ in *format* as much as in content: ISCX and PhishTank rows are full URLs
with a scheme (``http://...``), UT1 rows are squidGuard entries without one (``host/path``), OpenDNS
rows are bare domains, ISCX phishing rows carry HTML escapes (``&amp;``). Each source has one label,
so "has a scheme" or "starts with ``www.``" predicts the label without saying anything about the
URL. :func:`normalise_url` removes these format differences and keeps everything else:

* surrounding whitespace is stripped and ``&amp;`` is unescaped (repeatedly: ``&amp;amp;`` -> ``&``);
* the scheme is lower-cased, and ``http://`` / ``https://`` are dropped (other schemes are kept);
* the host is lower-cased (ASCII only) and a leading ``www.`` is dropped;
* a lone trailing ``/`` (``a.com/``) is dropped; a path, query or fragment is kept as it is.

``http://WWW.A.com/``, ``https://a.com`` and ``a.com`` all become ``a.com``.
"""

from __future__ import annotations

import re

__all__ = ["normalise_url"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _once(url: str) -> str:
    url = url.strip()
    while "&amp;" in url:
        url = url.replace("&amp;", "&")
    scheme = ""
    m = _SCHEME.match(url)
    if m:
        scheme = m.group(1).translate(_ASCII_LOWER)
        url = url[m.end() :]
        if scheme in ("http", "https"):
            scheme = ""
    # authority = everything up to the first "/", "?" or "#"
    cut = min((i for i in (url.find("/"), url.find("?"), url.find("#")) if i >= 0), default=len(url))
    authority, rest = url[:cut], url[cut:]
    userinfo, at, host = authority.rpartition("@")
    host = host.translate(_ASCII_LOWER)
    if host.startswith("www."):
        host = host[4:]
    if rest == "/":
        rest = ""
    return (f"{scheme}://" if scheme else "") + userinfo + at + host + rest


def normalise_url(url: str) -> str:
    """Remove the scheme / ``www.`` / trailing-slash / case / ``&amp;`` differences between URL lists.

    Parameters
    ----------
    url : a URL, a ``host/path`` entry or a bare domain, as the upstream list wrote it.

    Returns
    -------
    str
        The normalised string (see the module docstring). Idempotent; never raises on a ``str``.

    Notes
    -----
    Why: each URL source uses one format and has one label, so format features (scheme present,
    ``www.`` prefix, trailing slash) are label shortcuts. Each rewrite only removes characters or
    lower-cases ASCII letters, so repeating it until nothing changes terminates, and the result is a
    fixed point (idempotence).
    """
    if not isinstance(url, str):
        url = "" if url is None else str(url)
    prev = None
    while prev != url:
        prev, url = url, _once(url)
    return url
