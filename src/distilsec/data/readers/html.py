"""HTML pages: the ``index.csv`` + ``pages/<id>.html.gz`` layout, or any folder of ``.html`` files.

A page is read as raw bytes (never trusted to be UTF-8), capped at ``max_bytes`` while it is being
decompressed, and decoded with :func:`decode_html`. Pages are grouped for the split by the connected
components of the index columns named in ``group_by`` (``brand`` and ``near_dup_cluster`` for the
shared data), so that neither an imitated brand nor a template family lies on both sides of the split.
"""

from __future__ import annotations

import codecs
import hashlib
import lzma
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilsec._internal.textio import open_binary
from distilsec.data.example import Example
from distilsec.data.readers._common import counter, csv_rows, need_dir, need_file
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = [
    "read_html_index",
    "read_html_dir",
    "read_html_page",
    "decode_html",
    "html_groups",
    "HTML_INDEX_COLUMNS",
    "HTML_SUFFIXES",
    "DEFAULT_MAX_PAGE_BYTES",
]

#: Columns of ``index.csv`` (see the HTML data README); ``id``, ``file`` and ``label`` are required.
HTML_INDEX_COLUMNS = (
    "id",
    "file",
    "sha256",
    "bytes",
    "label",
    "source",
    "group",
    "brand",
    "near_dup_cluster",
    "url",
    "upstream_path",
    "note",
    "duplicate_of",
    "label_conflict",
)
_REQUIRED = ("id", "file", "label")

#: File names read by :func:`read_html_dir` (each optionally followed by ``.gz``, ``.xz`` or ``.bz2``).
HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
_COMPRESSED = (".gz", ".xz", ".bz2")

#: Bytes read per page (after decompression). The largest page of the shared data is 1.6 MB; a 50 MB
#: page (or a gzip bomb) is cut here while it is decompressed, so it never sits in memory whole.
DEFAULT_MAX_PAGE_BYTES = 2 * 1024 * 1024

#: Bytes searched for a ``<meta charset>`` declaration. The HTML standard's pre-scan reads 1024 bytes;
#: saved pages often carry a long comment or ``<script>`` first (a third of the shared pages declare
#: their charset after byte 1024), so 4 KB are searched.
_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:\-]+)", re.IGNORECASE)
#: One well-formed UTF-8 multi-byte character: evidence that a page that is not valid UTF-8 as a whole
#: is still mostly UTF-8 (a stray byte), rather than a legacy single-byte encoding.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
#: Labels the WHATWG Encoding Standard maps to another decoder than Python's codec of the same name:
#: browsers decode "latin-1" and "ascii" pages as windows-1252, and GB2312 / GBK as GB18030.
_WHATWG_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "x-user-defined": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
}
FALLBACK_ENCODING = "cp1252"


# ------------------------------------------------------------------------------------------- decoding


def _declared_encoding(head: bytes) -> str | None:
    """The Python codec of the page's ``<meta charset>`` / http-equiv declaration, if usable."""
    m = _META_CHARSET.search(head)
    if not m:
        return None
    label = m.group(1).decode("ascii", "replace").strip().lower()
    label = _WHATWG_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    # the standard ignores a UTF-16/32 declaration without a BOM (the declaration itself was ASCII);
    # non-text codecs (rot13, zlib, base64) are not encodings of a page at all.
    if info.name.startswith(("utf-16", "utf-32")) or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _strict_utf8(raw: bytes, final: bool) -> str | None:
    """``raw`` as UTF-8 when it is valid (a character cut at the end is allowed unless ``final``)."""
    try:
        return codecs.getincrementaldecoder("utf-8")("strict").decode(raw, final=final)
    except UnicodeDecodeError:
        return None


def decode_html(raw: bytes, *, truncated: bool = False) -> tuple[str, str]:
    """Decode the bytes of an HTML page of unknown encoding; never raises.

    Parameters
    ----------
    raw : the page bytes (possibly cut at a size cap).
    truncated : ``raw`` was cut, so a multi-byte character split at the end is not an encoding error.

    Returns
    -------
    (text, encoding)
        The text, with NUL characters replaced by U+FFFD, and the codec that decoded it.

    Notes
    -----
    The order is: a byte-order mark; valid UTF-8; the ``<meta charset>`` / ``http-equiv`` declaration
    found in the first 4 KB; UTF-8 with replacement when the page is mostly UTF-8 with a few stray bytes;
    else windows-1252 with replacement. Valid UTF-8 wins over a declaration because bytes of a legacy
    encoding that happen to form valid UTF-8 are vanishingly rare, while saved and mirrored pages often
    keep a stale declaration after being re-encoded: four pages of the shared data declare
    ISO-8859-1, windows-1251 or GB2312 and are valid UTF-8. NUL becomes U+FFFD as in an HTML parser, so
    that no downstream CSV writer or C library sees a string terminator inside a page.

    Examples
    --------
    >>> decode_html(b'<meta charset="windows-1251"><p>\\xcf\\xf0\\xe8\\xe2\\xe5\\xf2</p>')
    ('<meta charset="windows-1251"><p>Привет</p>', 'cp1251')
    """
    text, encoding, _, _ = _decode(raw, truncated)
    return text, encoding


def _decode(raw: bytes, truncated: bool) -> tuple[str, str, bool, bool]:
    """:func:`decode_html` plus whether bytes were replaced and whether NULs were replaced."""
    text: str | None = None
    encoding = ""
    strict = False
    for bom, name in _BOMS:
        if raw.startswith(bom):
            text = raw[len(bom) :].decode(name, errors="replace")
            encoding = name
            break
    if text is None:
        text = _strict_utf8(raw, final=not truncated)
        encoding, strict = "utf-8", text is not None
    if text is None:
        declared = _declared_encoding(raw[:_SNIFF_BYTES])
        if declared is not None and declared != "utf-8":
            try:
                text, encoding = raw.decode(declared, errors="replace"), declared
            except (LookupError, ValueError, TypeError):  # a codec that cannot decode bytes at all
                text = None
    if text is None:
        if _UTF8_MULTIBYTE.search(raw):
            text, encoding = raw.decode("utf-8", errors="replace"), "utf-8"
        else:
            text, encoding = raw.decode(FALLBACK_ENCODING, errors="replace"), FALLBACK_ENCODING
    replaced = not strict and "\ufffd" in text
    has_nul = "\x00" in text
    if has_nul:
        text = text.replace("\x00", "\ufffd")
    return text, encoding, replaced, has_nul


# --------------------------------------------------------------------------------------------- one page


@dataclass(frozen=True)
class _Page:
    text: str
    encoding: str
    truncated: bool
    replaced: bool  # undecodable bytes became U+FFFD
    had_nul: bool
    sha256: str | None  # of the bytes read; None when the page was cut (the hash would be of a prefix)
    n_bytes: int


def _read_capped(path: Path, max_bytes: int) -> tuple[bytes, bool]:
    """At most ``max_bytes`` of the (decompressed) file, and whether there was more.

    ``read(n)`` on a gzip / xz / bz2 stream decompresses only as far as it needs, so a 50 MB page or a
    compression bomb costs ``max_bytes`` of memory, not its full size.
    """
    with open_binary(path) as fh:
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:
        return raw[:max_bytes], True
    return raw, False


def read_html_page(path: str | Path, *, max_bytes: int = DEFAULT_MAX_PAGE_BYTES) -> tuple[str, dict[str, Any]]:
    """Read and decode one page file (``.gz`` / ``.xz`` / ``.bz2`` decompressed on the fly).

    Parameters
    ----------
    path : the page file.
    max_bytes : decompressed bytes read at most; the rest of the page is never read.

    Returns
    -------
    (text, info)
        The decoded text and ``{"encoding", "truncated", "bytes_read", "sha256"}`` (``sha256`` of the
        bytes read, ``None`` when the page was cut).

    Raises
    ------
    DataError
        When the file is missing, unreadable or not a valid compressed stream.
    """
    p = need_file(path, "HTML page", "an .html / .htm file, optionally compressed")
    page = _read_page(p, max_bytes)
    return page.text, {
        "encoding": page.encoding,
        "truncated": page.truncated,
        "bytes_read": page.n_bytes,
        "sha256": page.sha256,
    }


def _check_max_bytes(max_bytes: int) -> None:
    if max_bytes < 1:
        raise DataError(f"max_bytes must be >= 1, got {max_bytes}")


def _read_page(path: Path, max_bytes: int) -> _Page:
    _check_max_bytes(max_bytes)
    try:
        raw, truncated = _read_capped(path, max_bytes)
    except DataError:
        raise
    # a corrupt stream: gzip.BadGzipFile and bz2 errors are OSErrors, a cut stream is an EOFError, a bad
    # deflate block a zlib.error and a bad xz stream an LZMAError (neither is an OSError)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise DataError(f"{path}: cannot read page ({type(exc).__name__}: {exc})") from None
    text, encoding, replaced, had_nul = _decode(raw, truncated)
    digest = None if truncated else hashlib.sha256(raw).hexdigest()
    return _Page(text, encoding, truncated, replaced, had_nul, digest, len(raw))


def _load_page(
    path: Path, where: str, skips: SkipCounter, max_bytes: int, *, expected_sha256: str = ""
) -> _Page | None:
    """One page or None (counted): unreadable / empty / hash mismatch are skips, cuts and NULs are notes."""
    try:
        page = _read_page(path, max_bytes)
    except DataError as exc:
        skips.skip("unreadable_page", f"{where}: {exc}")
        return None
    if not page.text.strip():
        skips.skip("empty_page", where)
        return None
    if expected_sha256 and page.sha256 is not None and page.sha256 != expected_sha256.strip().lower():
        skips.skip("sha256_mismatch", where)
        return None
    if page.truncated:
        skips.note("page_truncated", f"{where} (cut at {max_bytes} bytes)")
    if page.replaced:
        skips.note("undecodable_bytes_replaced", f"{where} ({page.encoding})")
    if page.had_nul:
        skips.note("nul_replaced", where)
    return page


# ------------------------------------------------------------------------------------------- grouping


def html_groups(rows: Sequence[dict[str, str]], columns: Sequence[str]) -> dict[str, str]:
    """Row id -> group: connected components of rows that share a non-empty value in any of ``columns``.

    Parameters
    ----------
    rows : index rows (``id`` plus the named columns).
    columns : linking columns, e.g. ``("brand", "near_dup_cluster")``.

    Returns
    -------
    dict
        Each row's component name: its smallest ``column=value`` key, so two components never share a
        name; rows linked to nothing keep ``""`` (the split then makes each its own group).

    Notes
    -----
    Why a union, not one column: the shared data's near-duplicate clusters cross brands (zphisher and
    HiddenEye ship the same templates under different folder names), so a split by brand alone puts
    near-copies on both sides, and a split by cluster alone puts one brand's kits on both sides. In the
    union, no brand and no cluster straddles the split.

    Examples
    --------
    >>> html_groups([{"id": "a", "b": "x", "c": "1"}, {"id": "b", "b": "y", "c": "1"}, {"id": "c", "b": "", "c": ""}],
    ...             ["b", "c"])
    {'a': 'b=x', 'b': 'b=x', 'c': ''}
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    keys_of: dict[str, list[str]] = {}
    for row in rows:
        keys = [f"{c}={row.get(c, '').strip()}" for c in columns if row.get(c, "").strip()]
        keys_of[row["id"]] = keys
        if keys:
            find(keys[0])  # a key linked to nothing else is still a component (of one)
        for k in keys[1:]:
            a, b = find(keys[0]), find(k)
            if a != b:
                parent[max(a, b)] = min(a, b)  # the smaller key is the root, so names do not depend on order
    name: dict[str, str] = {}
    for k in parent:
        r = find(k)
        name[r] = min(name.get(r, r), k)
    return {rid: (name[find(keys[0])] if keys else "") for rid, keys in keys_of.items()}


# ------------------------------------------------------------------------------------------ index.csv


def read_html_index(
    path: str | Path,
    *,
    skips: SkipCounter | None = None,
    max_bytes: int = DEFAULT_MAX_PAGE_BYTES,
    group_by: Sequence[str] = ("brand", "near_dup_cluster"),
    verify_sha256: bool = True,
) -> Iterator[Example]:
    """Stream the pages listed in an HTML ``index.csv`` (the shared data's layout).

    Parameters
    ----------
    path : the index CSV (``.gz`` allowed); ``file`` paths are relative to its folder.
    skips : counter for dropped rows and pages (``malformed_row``, ``missing_id``, ``duplicate_id``,
        ``unsafe_path``, ``missing_page``, ``unreadable_page``, ``empty_page``, ``sha256_mismatch``) and
        for notes on kept pages (``page_truncated``, ``undecodable_bytes_replaced``, ``nul_replaced``).
    max_bytes : decompressed bytes read per page; longer pages are cut and noted.
    group_by : index columns whose shared values link pages into one split group (see
        :func:`html_groups`); an empty sequence uses the ``group`` column as it is.
    verify_sha256 : skip pages whose bytes do not match the ``sha256`` column (when both are there).

    Returns
    -------
    Iterator[Example]
        One example per readable page, in index order: ``text`` is the decoded page, ``id`` the index
        ``id``, ``group`` the component, ``source`` and ``label`` as given; ``meta`` holds ``brand``,
        ``near_dup_cluster``, ``note``, ``url``, ``upstream_group``, ``upstream_path``, ``file``,
        ``encoding`` and ``truncated``.

    Raises
    ------
    DataError
        When ``path`` is missing (at call time), or when a required column (``id``, ``file``, ``label``)
        or a ``group_by`` column is not in the header (on the first ``next``).

    Notes
    -----
    The index (metadata only) is read whole first, because a page's group depends on rows further down;
    pages are then read one at a time. A ``file`` that is absolute or escapes the index folder
    (``../``) is skipped as ``unsafe_path``: an index is data, and data must not choose what is read.
    """
    p = need_file(path, "HTML index", "index.csv with columns " + ",".join(HTML_INDEX_COLUMNS))
    _check_max_bytes(max_bytes)
    return _iter_html_index(p, counter(skips), max_bytes, tuple(group_by), verify_sha256)


def _index_rows(path: Path, skips: SkipCounter, group_by: tuple[str, ...]) -> list[dict[str, str]]:
    with open_binary(path) as fh:
        rows = csv_rows(fh, path.name, skips)
        header = next(rows, None)
        if header is None:
            skips.skip("empty_file", path.name)
            return []
        cols = [c.strip().lstrip("\ufeff") for c in header[1]]
        missing = [c for c in (*_REQUIRED, *group_by) if c not in cols]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {missing}; found {cols} "
                f"(required: {list(_REQUIRED)}; group_by: {list(group_by)})"
            )
        out: list[dict[str, str]] = []
        seen: set[str] = set()
        for lineno, row in rows:
            where = f"{path.name}:{lineno}"
            if len(row) != len(cols):
                skips.skip("malformed_row", where)
                continue
            rec = {k: v.strip() for k, v in zip(cols, row, strict=True)}
            if not rec["id"] or not rec["file"]:
                skips.skip("missing_id", where)
                continue
            if rec["id"] in seen:
                skips.skip("duplicate_id", where)
                continue
            seen.add(rec["id"])
            rec["_where"] = where
            out.append(rec)
    return out


def _safe_child(root: Path, rel: str) -> Path | None:
    """``root / rel`` when it stays inside ``root`` (no absolute path, no ``..`` escape), else None."""
    if not rel or os.path.isabs(rel) or rel.startswith(("/", "\\")):
        return None
    candidate = (root / rel).resolve()
    return candidate if candidate.is_relative_to(root.resolve()) else None


def _iter_html_index(
    path: Path, skips: SkipCounter, max_bytes: int, group_by: tuple[str, ...], verify: bool
) -> Iterator[Example]:
    rows = _index_rows(path, skips, group_by)
    groups = html_groups(rows, group_by) if group_by else {r["id"]: r.get("group", "") for r in rows}
    root = path.parent
    for rec in rows:
        where = f"{rec['_where']} ({rec['file']})"
        page_path = _safe_child(root, rec["file"])
        if page_path is None:
            skips.skip("unsafe_path", where)
            continue
        if not page_path.is_file():
            skips.skip("missing_page", where)
            continue
        page = _load_page(page_path, where, skips, max_bytes, expected_sha256=rec.get("sha256", "") if verify else "")
        if page is None:
            continue
        yield Example(
            text=page.text,
            label=rec["label"] or None,
            group=groups.get(rec["id"], ""),
            source=rec.get("source", ""),
            id=rec["id"],
            meta={
                "brand": rec.get("brand", ""),
                "near_dup_cluster": rec.get("near_dup_cluster", ""),
                "note": rec.get("note", ""),
                "url": rec.get("url", ""),
                "upstream_group": rec.get("group", ""),
                "upstream_path": rec.get("upstream_path", ""),
                "file": rec["file"],
                "encoding": page.encoding,
                "truncated": page.truncated,
            },
        )


# ------------------------------------------------------------------------------------------ a folder


def _is_html_name(name: str) -> bool:
    low = name.lower()
    for suffix in _COMPRESSED:
        if low.endswith(suffix):
            low = low[: -len(suffix)]
            break
    return low.endswith(HTML_SUFFIXES)


def _html_files(root: Path) -> list[Path]:
    """HTML files under ``root`` in path order; symbolic links are not followed (no loops, no escapes)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if _is_html_name(name) and not p.is_symlink() and p.is_file():
                found.append(p)
    return found


def read_html_dir(
    path: str | Path,
    *,
    label: str | None = None,
    skips: SkipCounter | None = None,
    max_bytes: int = DEFAULT_MAX_PAGE_BYTES,
    source: str | None = None,
) -> Iterator[Example]:
    """Stream every ``.html`` / ``.htm`` / ``.xhtml`` / ``.shtml`` file (optionally ``.gz``) under a folder.

    Parameters
    ----------
    path : the folder, searched recursively (symbolic links are not followed).
    label : the label of every page; when ``None``, the first folder level names it
        (``phishing/kit1/index.html`` -> ``phishing``) and pages directly in ``path`` are unlabelled.
    skips : counter, as in :func:`read_html_index`.
    max_bytes : decompressed bytes read per page.
    source : the source id to record (default: the folder's name).

    Returns
    -------
    Iterator[Example]
        One example per readable page in path order; ``group`` is the page's folder below the label
        folder (``kit1``: one kit's pages stay together), or empty for a page directly in it (its own
        group); ``meta`` holds ``path`` (relative), ``encoding`` and ``truncated``.

    Raises
    ------
    DataError
        When ``path`` is missing or not a folder (at call time).
    """
    root = need_dir(path, "HTML folder", "a folder of .html / .htm files, e.g. phishing/ and benign/ subfolders")
    _check_max_bytes(max_bytes)
    return _iter_html_dir(root, label, counter(skips), max_bytes, source or root.resolve().name)


def _iter_html_dir(root: Path, label: str | None, skips: SkipCounter, max_bytes: int, source: str) -> Iterator[Example]:
    for f in _html_files(root):
        rel = f.relative_to(root)
        where = rel.as_posix()
        page = _load_page(f, where, skips, max_bytes)
        if page is None:
            continue
        parts = rel.parts[:-1]
        if label is not None:
            page_label: str | None = label
            group_parts = parts
        else:
            page_label = parts[0] if parts else None
            group_parts = parts[1:]
        yield Example(
            text=page.text,
            label=page_label,
            group="_".join(group_parts),
            source=source,
            meta={"path": where, "encoding": page.encoding, "truncated": page.truncated},
        )
