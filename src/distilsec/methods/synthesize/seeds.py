"""Where seeds (and the protected set) come from: files, folders of pages, or a run config's splits.

Seeds are read the way scoring inputs are (text lines, JSON Lines, CSV/TSV/Parquet with ``text``,
``label`` and optional ``group`` columns), plus HTML pages as files (``.html``/``.htm``, one page per
file, or a folder of them). Nothing here raises on bad content: an unreadable record, a page above the
size cap or a line of undecodable bytes is skipped and counted by reason, so the report can say how
many seeds were lost and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from distilsec._internal.textio import open_binary, read_capped_lines
from distilsec.data.example import Example
from distilsec.data.readers.tabular import TABLE_FORMATS
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["read_seeds", "seeds_from_config", "HTML_SUFFIXES", "decode_page"]

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
_COMPRESSION = (".gz", ".xz", ".bz2")


def decode_page(raw: bytes) -> tuple[str, bool]:
    """Page bytes as text: UTF-8 (BOM dropped), else Windows-1252 (what browsers assume for Latin pages).

    Returns ``(text, was_utf8)``. Windows-1252 leaves five byte values undefined; those become U+FFFD,
    so binary junk still shows up as replacement characters that the parse filter rejects.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), False


def _table_format(path: Path) -> str | None:
    name = path.name.lower()
    for c in _COMPRESSION:
        if name.endswith(c):
            name = name[: -len(c)]
    return TABLE_FORMATS.get(Path(name).suffix)


def _read_page(path: Path, label: str | None, max_chars: int, skips: SkipCounter) -> Example | None:
    try:
        with open_binary(path) as fh:
            raw = fh.read(max_chars * 4 + 1)  # UTF-8 needs at most 4 bytes a character
    except OSError as exc:
        skips.skip("unreadable_file", f"{path}: {exc}")
        return None
    text, utf8 = decode_page(raw)
    if len(raw) > max_chars * 4 or len(text) > max_chars:
        skips.skip("page_too_large", str(path))
        return None
    if not utf8:
        skips.note("page_not_utf8", str(path))
    if not text.strip():
        skips.skip("empty_text", str(path))
        return None
    return Example(text=text, label=label, group=path.stem, source=path.name, meta={"path": str(path)})


def _read_table(path: Path, label: str | None, skips: SkipCounter) -> Iterable[Example]:
    from distilsec.data.readers.tabular import read_table

    for ex in read_table(path, label_column=None, skips=skips):
        meta: dict[str, Any] = dict(ex.meta)
        lab = meta.pop("label", None)
        lab = str(lab).strip() if lab not in (None, "") else label
        group = str(meta.pop("group", "") or "")
        platform = str(meta.pop("platform", "") or "")
        yield Example(text=ex.text, label=lab or None, group=group, source=ex.source, platform=platform, meta=meta)


def _read_lines(path: Path, label: str | None, skips: SkipCounter) -> Iterable[Example]:
    with open_binary(path) as fh:
        for lineno, (line, truncated) in enumerate(read_capped_lines(fh), start=1):
            where = f"{path.name}:{lineno}"
            if truncated:
                skips.skip("line_too_long", where)
                continue
            if not line.strip():
                continue
            if "\ufffd" in line:
                skips.skip("undecodable_bytes", where)
                continue
            yield Example(text=line.strip(), label=label, source=path.stem)


def read_seeds(
    paths: Sequence[str | Path],
    *,
    label: str | None = None,
    max_page_chars: int = 1_000_000,
    skips: SkipCounter | None = None,
) -> list[Example]:
    """Examples from seed files and folders, in the order given.

    Parameters
    ----------
    paths : files (text lines; ``.jsonl``/``.csv``/``.tsv``/``.parquet`` tables with ``text`` (or
        ``url``), optional ``label``, ``group`` and ``platform`` columns; ``.html`` pages) or folders
        (every HTML page and table inside, sorted).
    label : label of rows that have none (text lines, pages, tables without a label column).
    max_page_chars : pages above this size are skipped (``page_too_large``), unread beyond the cap.
    skips : counter of skipped records by reason.

    Raises
    ------
    DataError
        A path does not exist, or nothing at all could be read.
    """
    skips = skips if skips is not None else SkipCounter()
    out: list[Example] = []
    for p in (Path(x) for x in paths):
        if not p.exists():
            raise DataError(f"seed file not found: {p}")
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            low = f.name.lower()
            if low.endswith(HTML_SUFFIXES) or any(low.endswith(s + c) for s in HTML_SUFFIXES for c in _COMPRESSION):
                ex = _read_page(f, label, max_page_chars, skips)
                if ex is not None:
                    out.append(ex)
            elif _table_format(f) is not None:
                out.extend(_read_table(f, label, skips))
            elif p.is_dir():
                continue  # a folder holds pages and tables; other files are not seeds
            else:
                out.extend(_read_lines(f, label, skips))
    if not out:
        raise DataError(f"no seeds could be read from {[str(x) for x in paths]} (skipped: {skips.as_dict()})")
    return out


def seeds_from_config(
    config: str | Path,
    *,
    groups: Sequence[str] = (),
    labels: Sequence[str] = (),
    overrides: dict[str, str] | None = None,
    data_dir: str | Path | None = None,
) -> tuple[list[Example], list[Example], str]:
    """Seeds from a run config's training split (optionally only some groups / labels), and the
    protected set: its validation and test splits, which no generated sample may copy.

    Returns ``(seeds, protected, task)``.
    """
    from distilsec.config import load_config
    from distilsec.tasks.prepare import prepare_data

    cfg = load_config(config, overrides or {})
    data = prepare_data(cfg, data_dir=data_dir)
    seeds = [
        ex
        for ex in data.train
        if (not groups or ex.group in set(groups)) and (not labels or str(ex.label) in set(labels))
    ]
    if not seeds:
        known = sorted({ex.group for ex in data.train})[:20]
        raise DataError(f"no training examples in groups {list(groups)} (some groups: {known})")
    return seeds, [*data.val, *data.test], str(cfg.data.task)
