"""CTI-Bench MCQ files (multiple-choice CTI questions): reader and writer.

The format (CTI-Bench ``cti-mcq.tsv``): tab-separated with the header
``URL  Question  Option A  Option B  Option C  Option D  Prompt  GT``; ``GT`` is the letter of the correct
option. Files in the wild come with a BOM, CRLF records (bare line breaks inside fields), quoted fields and
NUL bytes; all are read (the TSV layer is :mod:`distilsec.data.readers.cti_ate`'s). Each data row is
returned or counted in ``skips`` once (``short_row``, ``no_question``, ``bad_gt``); blank lines are layout.

Our held-out multiple-choice sets are written in the same format, so one reader serves both, and
``distilsec bench cti-mcq`` reads either.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from distilsec.data.readers._common import counter
from distilsec.data.readers.cti_ate import _read_text, _records
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["McqItem", "read_mcq", "write_mcq_tsv", "MCQ_HEADER", "is_mcq_header"]

MCQ_HEADER = ("URL", "Question", "Option A", "Option B", "Option C", "Option D", "Prompt", "GT")
_LETTERS = ("A", "B", "C", "D")
_OPTIONS = tuple(f"option {x.lower()}" for x in _LETTERS)


@dataclass(frozen=True, slots=True)
class McqItem:
    """One question: its four options (A..D), the correct letter (``""`` when unknown), the prompt and URL."""

    question: str
    options: tuple[str, str, str, str]
    gt: str
    prompt: str = ""
    url: str = ""


def is_mcq_header(first_line: str) -> bool:
    """Whether a TSV's first line is an MCQ header (has ``Question`` and ``Option A`` columns)."""
    cols = {c.strip().lstrip("\ufeff").strip('"').lower() for c in first_line.split("\t")}
    return "question" in cols and "option a" in cols


def _gt(value: str) -> str:
    v = value.strip().strip(".)").upper()
    return v if v in _LETTERS else ""


def read_mcq(path: str | Path, *, skips: SkipCounter | None = None, require_gt: bool = True) -> list[McqItem]:
    """The rows of a CTI-Bench MCQ file (compressed ok).

    Parameters
    ----------
    require_gt : keep only rows whose GT is a letter A-D (evaluation); ``False`` keeps every row with a
        question (decontamination: a row with a broken GT is still benchmark text).

    Raises
    ------
    DataError
        A missing or empty file, a header without Question / Option A-D (or GT), or no usable row.
    """
    skips = counter(skips)
    p, text = _read_text(path, "a CTI-Bench MCQ TSV: URL Question Option A-D Prompt GT")
    try:
        rows = _records(text)
    except DataError as exc:
        raise DataError(f"{p}: {exc}") from None
    header, body = rows[0], rows[1:]
    cols = {h.strip().lstrip("\ufeff").lower(): i for i, h in enumerate(header)}
    need = ["question", *_OPTIONS] + (["gt"] if require_gt else [])
    missing = [n for n in need if n not in cols]
    if missing:
        raise DataError(
            f"{p}: the header has no {', '.join(missing)} column (expected tab-separated {' '.join(MCQ_HEADER)})"
        )
    q, opts, g = cols["question"], [cols[o] for o in _OPTIONS], cols.get("gt")
    pr, u = cols.get("prompt"), cols.get("url")
    width = max(q, *opts, g if g is not None and require_gt else 0)
    out: list[McqItem] = []
    n = 0
    for line, row in enumerate(body, start=2):
        if not any(c.strip() for c in row):
            continue
        n += 1
        where = f"{p.name}:row {line}"
        if len(row) <= width:
            skips.skip("short_row", where)
            continue
        question = row[q].strip()
        gt = _gt(row[g]) if g is not None and g < len(row) else ""
        if not question:
            skips.skip("no_question", where)
        elif require_gt and not gt:
            skips.skip("bad_gt", f"{where}: {row[g][:20]!r}" if g is not None else where)
        else:
            options = tuple(row[i].strip() for i in opts)
            prompt = row[pr] if pr is not None and pr < len(row) else ""
            url = row[u].strip() if u is not None and u < len(row) else ""
            out.append(McqItem(question, options, gt, prompt, url))  # type: ignore[arg-type]
    if not out:
        raise DataError(
            f"{p}: no usable MCQ row out of {n} (skips: {skips.as_dict()}); expected {' '.join(MCQ_HEADER)}"
        )
    return out


def write_mcq_tsv(path: str | Path, items: Sequence[McqItem]) -> Path:
    """Write ``items`` as a CTI-Bench-format MCQ TSV (LF records; fields with line breaks or tabs quoted)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(MCQ_HEADER)
        for it in items:
            if len(it.options) != 4 or it.gt not in _LETTERS:
                raise DataError(f"MCQ item needs 4 options and a GT letter A-D: {it.question[:60]!r}")
            cells = [it.url, it.question, *it.options, it.prompt, it.gt]
            w.writerow([c.replace("\r\n", "\n").replace("\r", "\n") for c in cells])
    return p
