"""URL lists: the combined ``urls.csv.gz`` and the raw upstream lists it was built from.

Every URL example is grouped by its registrable domain, because URLs of one site share almost all
of their characters: a random row split would put near copies on both sides.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tldextract

from distilsec._internal.textio import open_binary
from distilsec.data.example import Example
from distilsec.data.readers._common import (
    clean_text,
    counter,
    csv_rows,
    need_file,
    numbered_lines,
    strip_compression,
)
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = [
    "read_url_csv",
    "read_url_list",
    "read_phishtank_csv",
    "read_iscx_csv",
    "registrable_domain",
    "url_parts",
    "URL_CSV_COLUMNS",
]

#: Columns of ``urls.csv.gz`` (see the URL data README); ``url`` and ``label`` are required.
URL_CSV_COLUMNS = (
    "url",
    "label",
    "source",
    "host",
    "reg_domain",
    "reg_domain_private",
    "has_scheme",
    "date",
    "target",
    "source_id",
    "label_conflict",
)

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HOST = re.compile(r"^[\w.-]+$")


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # Offline on purpose: the bundled Public Suffix List snapshot, no download and no cache folder,
    # so that results do not depend on network access or on when the code ran.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _host(url: str) -> tuple[bool, str]:
    """``(has_scheme, lower-cased host)``; ``http://`` is assumed for scheme-less entries."""
    has_scheme = bool(_SCHEME.match(url))
    try:
        host = urlsplit(url if has_scheme else "http://" + url).hostname or ""
    except ValueError:
        host = ""
    host = host.strip().lower().rstrip(".")  # ``kh.ua.`` (fully qualified) is the host ``kh.ua``
    return has_scheme, host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _domain(host: str, private: bool) -> str:
    if not host:
        return ""
    if _is_ip(host):
        return host
    if not _HOST.match(host):
        return ""
    r = _extractor()(host, include_psl_private_domains=private)
    top = getattr(r, "top_domain_under_public_suffix", None)
    if top is None:  # tldextract < 5.3
        top = r.registered_domain
    # a host that is itself a public suffix (``rj.gov.br``) is its own registrable domain
    return top or r.suffix


def registrable_domain(url: str, *, private: bool = False) -> str:
    """The registrable domain of ``url`` (``a.b.example.co.uk`` -> ``example.co.uk``).

    Parameters
    ----------
    url : a URL, a scheme-less ``host/path`` entry or a bare domain.
    private : count the private section of the Public Suffix List too (``foo.pages.dev`` instead
        of ``pages.dev``), which splits hosting platforms into their tenants.

    Returns
    -------
    str
        The ICANN registrable domain from tldextract's bundled suffix list (offline); the IP itself
        for IP hosts; ``""`` when no host can be parsed (callers count that).
    """
    return _domain(_host(url)[1], private)


def url_parts(url: str) -> dict[str, Any]:
    """``has_scheme``, ``host``, ``reg_domain`` and ``reg_domain_private`` of one URL, as in urls.csv."""
    has_scheme, host = _host(url)
    if host and not (_is_ip(host) or _HOST.match(host)):
        host = ""
    return {
        "has_scheme": int(has_scheme),
        "host": host,
        "reg_domain": _domain(host, False),
        "reg_domain_private": _domain(host, True),
    }


def _url_example(
    url: str, label: str, source: str, where: str, skips: SkipCounter, *, time: str = "", meta: dict[str, Any]
) -> Example:
    parts = url_parts(url)
    if not parts["reg_domain"]:
        skips.note("no_registrable_domain", where)  # kept, with an empty group: a note, not a skip
    return Example(text=url, label=label, group=parts["reg_domain"], source=source, time=time, meta={**parts, **meta})


# ---------------------------------------------------------------------------------------------- urls.csv


def read_url_csv(
    path: str | Path, *, skips: SkipCounter | None = None, group_column: str = "reg_domain"
) -> Iterator[Example]:
    """Stream the combined URL CSV (``urls.csv.gz``).

    Parameters
    ----------
    path : the CSV (header row; ``.gz`` / ``.xz`` / ``.bz2`` allowed).
    skips : counter for dropped rows (``malformed_row``, ``csv_error``, ``empty_text``).
    group_column : the column used as ``group``; ``reg_domain`` holds whole sites out of training,
        ``reg_domain_private`` splits hosting platforms (``pages.dev``) into their tenants.

    Returns
    -------
    Iterator[Example]
        One example per row; ``time`` is the ``date`` column (PhishTank submission time, else
        empty) and ``has_scheme``, ``host``, ``target``, ``reg_domain(_private)``, ``source_id`` and
        ``label_conflict`` go into ``meta``.

    Raises
    ------
    DataError
        When ``path`` is missing (at call time), or when ``url``, ``label`` or ``group_column`` is
        not in the header (on the first ``next``).
    """
    p = need_file(path, "URL CSV", "urls.csv.gz with columns " + ",".join(URL_CSV_COLUMNS))
    return _iter_url_csv(p, counter(skips), group_column)


def _iter_url_csv(path: Path, skips: SkipCounter, group_column: str) -> Iterator[Example]:
    with open_binary(path) as fh:
        rows = csv_rows(fh, path.name, skips)
        header = next(rows, None)
        if header is None:
            skips.skip("empty_file", path.name)
            return
        cols = [c.strip() for c in header[1]]
        missing = [c for c in ("url", "label", group_column) if c not in cols]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing}; found {cols}")
        for lineno, row in rows:
            where = f"{path.name}:{lineno}"
            if len(row) != len(cols):
                skips.skip("malformed_row", where)
                continue
            rec = dict(zip(cols, row, strict=True))
            text = clean_text(rec["url"], where, skips)
            if text is None:
                continue
            has_scheme = rec.get("has_scheme", "").strip()
            yield Example(
                text=text,
                label=rec["label"].strip() or None,
                group=rec[group_column].strip(),
                source=rec.get("source", "").strip(),
                time=rec.get("date", "").strip(),
                meta={
                    "has_scheme": int(has_scheme) if has_scheme.isdigit() else None,
                    "host": rec.get("host", ""),
                    "target": rec.get("target", ""),
                    "reg_domain": rec.get("reg_domain", ""),
                    "reg_domain_private": rec.get("reg_domain_private", ""),
                    "source_id": rec.get("source_id", ""),
                    "label_conflict": rec.get("label_conflict", "0").strip() == "1",
                },
            )


# ------------------------------------------------------------------------------------------- raw lists


def read_url_list(path: str | Path, label: str, source: str, *, skips: SkipCounter | None = None) -> Iterator[Example]:
    """Stream a one-URL-per-line list (OpenDNS ``*.txt``, UT1 ``blacklists/<cat>/urls``, ``.xz`` ok).

    Parameters
    ----------
    path : the list file.
    label : the label every entry gets (lists are labelled as a whole upstream).
    source : the source id to record (``"opendns/opendns-top-domains.txt"``...).
    skips : counter; blank lines are dropped silently, ``#`` comment lines are counted as ``comment``.

    Returns
    -------
    Iterator[Example]
        One example per entry, grouped by registrable domain; ``meta["source_id"]`` is the 0-based
        line number, as in urls.csv.
    """
    p = need_file(path, "URL list", "one URL or domain per line")
    return _iter_list(p, label, source, counter(skips))


def _iter_list(path: Path, label: str, source: str, skips: SkipCounter) -> Iterator[Example]:
    with open_binary(path) as fh:
        for lineno, line in numbered_lines(fh, path.name, skips):
            where = f"{path.name}:{lineno + 1}"
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                skips.skip("comment", where)
                continue
            text = clean_text(stripped, where, skips)
            if text is not None:
                yield _url_example(text, label, source, where, skips, meta={"source_id": lineno})


def read_phishtank_csv(
    path: str | Path, *, skips: SkipCounter | None = None, source: str = "phishtank", label: str = "phishing"
) -> Iterator[Example]:
    """Stream a PhishTank dump (``phish_id,url,phish_detail_url,submission_time,...,target``).

    Parameters
    ----------
    path : the dump CSV (``.bz2`` / ``.gz`` as published are fine).
    skips : counter for malformed rows.
    source : the source id to record; include the dump date (``"phishtank-2017-10-07"``) when
        several dumps are combined, so that a time split can tell them apart.
    label : the label of every row (every dump row is a verified phish).

    Returns
    -------
    Iterator[Example]
        One example per row; ``time`` is ``submission_time`` (for time splits), ``meta`` holds
        ``target`` (the brand), ``source_id`` (``phish_id``), ``verified`` and ``online``.

    Raises
    ------
    DataError
        When ``path`` is missing (at call time) or the header has no ``url`` column (first ``next``).
    """
    p = need_file(path, "PhishTank dump", "CSV with header phish_id,url,...,submission_time,...,target")
    return _iter_phishtank(p, source, label, counter(skips))


def _iter_phishtank(path: Path, source: str, label: str, skips: SkipCounter) -> Iterator[Example]:
    with open_binary(path) as fh:
        rows = csv_rows(fh, path.name, skips)
        header = next(rows, None)
        if header is None:
            skips.skip("empty_file", path.name)
            return
        cols = [c.strip() for c in header[1]]
        if "url" not in cols:
            raise DataError(f"{path}: missing column 'url'; found {cols}")
        for lineno, row in rows:
            where = f"{path.name}:{lineno}"
            if len(row) != len(cols):
                skips.skip("malformed_row", where)
                continue
            rec = dict(zip(cols, row, strict=True))
            text = clean_text(rec["url"], where, skips)
            if text is None:
                continue
            meta = {
                "source_id": rec.get("phish_id", ""),
                "target": rec.get("target", ""),
                "verified": rec.get("verified", ""),
                "online": rec.get("online", ""),
            }
            yield _url_example(text, label, source, where, skips, time=rec.get("submission_time", ""), meta=meta)


def read_iscx_csv(
    path: str | Path, label: str, *, skips: SkipCounter | None = None, source: str | None = None
) -> Iterator[Example]:
    """Stream one ISCX-URL-2016 list: a single-column CSV with the header ``URLs``.

    Parameters
    ----------
    path : e.g. ``phishing_dataset.csv`` (``.gz`` ok).
    label : the label of the list (``benign``, ``phishing``, ``malware``, ``spam``...).
    skips : counter; rows with more than one field (unquoted commas) are ``malformed_row``.
    source : the source id; defaults to ``iscx-url-2016/<file name without compression suffix>``.

    Returns
    -------
    Iterator[Example]
        One example per row, grouped by registrable domain. Quoted rows (URLs with commas) are
        unquoted by the csv module; ``meta["source_id"]`` is the 0-based data row number.
    """
    p = need_file(path, "ISCX-URL-2016 list", "single-column CSV with header URLs")
    src = source or f"iscx-url-2016/{strip_compression(p.name)}"
    return _iter_iscx(p, label, src, counter(skips))


def _iter_iscx(path: Path, label: str, source: str, skips: SkipCounter) -> Iterator[Example]:
    with open_binary(path) as fh:
        index = 0
        for n, (lineno, row) in enumerate(csv_rows(fh, path.name, skips, header=False)):
            where = f"{path.name}:{lineno}"
            if n == 0 and len(row) == 1 and row[0].strip().lower() == "urls":
                continue  # the header
            if len(row) != 1:
                skips.skip("malformed_row", where)
                index += 1
                continue
            text = clean_text(row[0], where, skips)
            if text is not None:
                yield _url_example(text, label, source, where, skips, meta={"source_id": index})
            index += 1
