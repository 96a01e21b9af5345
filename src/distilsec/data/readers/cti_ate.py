"""CTI-Bench ATE files (ATT&CK technique extraction): a threat-report passage and its technique list per row.

The format (CTI-Bench ``cti-ate.tsv``): tab-separated, a header naming at least ``Description`` and ``GT``
(usually ``URL  Platform  Description  Prompt  GT``); ``GT`` lists technique IDs, comma-separated
(``T1071, T1573``) or as a Python/JSON list (``['T1071', 'T1573.002']``). Files in the wild come with a
BOM, CRLF records (with bare line breaks inside fields), quoted fields and NUL bytes; all are read.

Two users: ``distilsec bench cti-ate`` (rows with a usable GT) and decontamination of the ATT&CK training
data (every passage, GT or not: see :func:`read_benchmark_passages`, which also reads plain text files,
one passage per paragraph). Each data row is returned or counted in ``skips`` once (``short_row``,
``no_description``, ``bad_gt``); blank lines are layout, not rows.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from distilsec._internal.textio import decode_bytes, open_binary
from distilsec.data.readers._common import counter, need_file
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["AteItem", "read_ate", "read_benchmark_passages", "parse_gt", "ATE_HEADER"]

ATE_HEADER = ("URL", "Platform", "Description", "Prompt", "GT")
_TECHNIQUE = re.compile(r"\bT(\d{4})(?:[./](\d{3}))?\b", re.IGNORECASE)
_CSV_LIMIT = 1 << 24


@dataclass(frozen=True, slots=True)
class AteItem:
    """One benchmark row: the report passage, its techniques (``T1071``, ``T1573.002``) and its URL."""

    description: str
    gt: tuple[str, ...]
    url: str = ""


def parse_gt(value: str) -> tuple[str, ...]:
    """Technique IDs in a GT cell, in order, each once: ``"['T1071', 't1573/002']"`` -> ``("T1071", "T1573.002")``."""
    ids = (f"T{m.group(1)}" + (f".{m.group(2)}" if m.group(2) else "") for m in _TECHNIQUE.finditer(value or ""))
    return tuple(dict.fromkeys(ids))


def _records(text: str) -> list[list[str]]:
    """TSV records of ``text``; with CRLF record ends, bare line breaks are part of a field (CTI-Bench's layout)."""
    first = text.find("\n")
    mask = None
    if first > 0 and text[first - 1] == "\r":
        mask = next(c for c in ("\ue000", "\ue001", "\ufdd0", "\ufdd1") if c not in text)
        text = text.replace("\r\n", "\0").replace("\r", mask).replace("\n", mask).replace("\0", "\n")
    if csv.field_size_limit() < _CSV_LIMIT:
        csv.field_size_limit(_CSV_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise DataError(f"malformed TSV at line {reader.line_num}: {exc}") from None
    if mask is not None:
        rows = [[c.replace(mask, "\n") for c in row] for row in rows]
    return rows


def _read_text(
    path: str | Path, expected: str = "a CTI-Bench ATE TSV with Description and GT columns"
) -> tuple[Path, str]:
    """The decoded text of a benchmark file (NULs dropped); ``expected`` names the format in the errors."""
    p = need_file(path, "benchmark file", expected)
    with open_binary(p) as f:
        text = decode_bytes(f.read()).replace("\0", "")
    if not text.strip():
        raise DataError(f"{p} is empty (expected {expected})")
    return p, text


def _columns(p: Path, header: list[str], require_gt: bool) -> dict[str, int]:
    cols = {h.strip().lstrip("\ufeff").lower(): i for i, h in enumerate(header)}
    need = ["description", "gt"] if require_gt else ["description"]
    missing = [n for n in need if n not in cols]
    if missing:
        names = " or ".join("GT" if m == "gt" else m.title() for m in missing)
        raise DataError(
            f"{p}: the header {[h[:20] for h in header[:6]]} has no {names} column "
            f"(expected tab-separated {' '.join(ATE_HEADER)})"
        )
    return cols


def read_ate(path: str | Path, *, skips: SkipCounter | None = None, require_gt: bool = True) -> list[AteItem]:
    """The rows of a CTI-Bench ATE file (compressed ok).

    Parameters
    ----------
    require_gt : keep only rows whose GT names a technique (evaluation); ``False`` keeps every row with a
        description (decontamination: a row with a broken GT is still benchmark text), and the file then
        needs no GT column.

    Raises
    ------
    DataError
        A missing or empty file, a header without a ``Description`` (or ``GT``) column, or no usable row.
    """
    skips = counter(skips)
    p, text = _read_text(path)
    try:
        rows = _records(text)
    except DataError as exc:
        raise DataError(f"{p}: {exc}") from None
    header, body = rows[0], rows[1:]
    cols = _columns(p, header, require_gt)
    d, g, u = cols["description"], cols.get("gt"), cols.get("url")
    out: list[AteItem] = []
    n = 0
    for line, row in enumerate(body, start=2):
        if not any(c.strip() for c in row):
            continue
        n += 1
        where = f"{p.name}:row {line}"
        if len(row) <= max(d, g if g is not None and require_gt else 0):
            skips.skip("short_row", where)
            continue
        desc = row[d].strip()
        gt = parse_gt(row[g]) if g is not None and g < len(row) else ()
        if not desc:
            skips.skip("no_description", where)
        elif require_gt and not gt:
            skips.skip("bad_gt", f"{where}: {row[g][:40]!r}" if g is not None else where)
        else:
            out.append(AteItem(desc, gt, row[u].strip() if u is not None and u < len(row) else ""))
    if not out:
        raise DataError(f"{p}: no usable row out of {n} (skips: {skips.as_dict()}); expected {' '.join(ATE_HEADER)}")
    return out


def read_benchmark_passages(path: str | Path, *, skips: SkipCounter | None = None) -> list[str]:
    """Every passage of a benchmark file, for decontamination: an ATE TSV's descriptions, or the paragraphs of text.

    A file whose first line holds a tab and a ``Description`` column is read as ATE (GT not needed);
    anything else as plain text, one passage per paragraph (blank-line separated).
    """
    p, text = _read_text(path)
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    if "\t" in first and "description" in first.lower():
        return [it.description for it in read_ate(p, skips=skips, require_gt=False)]
    passages = [" ".join(b.split()) for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))]
    passages = [b for b in passages if b]
    if not passages:
        raise DataError(f"{p}: no text passage found")
    return passages
