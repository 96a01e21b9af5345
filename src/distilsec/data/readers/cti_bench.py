"""CTI-Bench-compatible evaluation: root-cause mapping (RCM, CWE exact match) and severity prediction (VSP, MAD).

The benchmark's files are tab-separated with the header ``URL  Description  Prompt  GT``; the CVE ID is in
the URL, GT is a CWE ID (``CWE-79``) for RCM and a CVSS v3.1 vector for VSP. The official metrics are
exact-match accuracy of the CWE ID (RCM) and the mean absolute deviation between the base scores computed
from the predicted and the true vector (VSP). Our own held-out splits are written in the same format, so
one reader and one metric serve both.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec._internal.textio import open_binary
from distilsec.data.cve_record import CVE_ID, normalise_cwe_id
from distilsec.data.cvss import parse_vector
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = [
    "BenchItem",
    "BenchSet",
    "read_bench",
    "read_bench_texts",
    "write_bench_tsv",
    "TASKS",
    "HEADER",
]

TASKS = ("rcm", "vsp")
HEADER = ("URL", "Description", "Prompt", "GT")
_RCM_PROMPT = "Analyze the following CVE description and map it to the appropriate CWE. Description: "
_VSP_PROMPT = "Analyze the following CVE description and give its CVSS v3.1 base vector. Description: "


@dataclass(frozen=True, slots=True)
class BenchItem:
    """One benchmark row: CVE ID (may be ``""`` when the URL names none), description and ground truth."""

    cve_id: str
    description: str
    gt: str
    url: str = ""


@dataclass
class BenchSet:
    """The usable rows of a benchmark file and what was skipped (``skips``), for the report."""

    task: str
    items: list[BenchItem]
    path: str
    skips: dict[str, int] = field(default_factory=dict)
    n_rows: int = 0

    @property
    def ids(self) -> set[str]:
        return {it.cve_id for it in self.items if it.cve_id}


def _gt(task: str, value: str) -> str | None:
    if task == "rcm":
        c = normalise_cwe_id(value)
        return c if c is not None and c.startswith("CWE-") else None
    try:
        parse_vector(value)
    except DataError:
        return None
    return value.strip()


def _crlf_records(text: str) -> tuple[str, str | None]:
    """The text with line breaks *inside* fields masked when records end with CRLF, and the mask.

    CTI-Bench's TSV files end each record with ``\r\n`` and keep bare ``\n`` inside unquoted fields
    (the multi-line prompts). A CSV reader takes every ``\n`` for a record end and cuts each row into
    fragments whose last column is no GT, so every row came out as ``bad_gt``. When the header line
    ends with ``\r\n``, the records do too: a bare ``\n`` or ``\r`` is part of a field.
    """
    first = text.find("\n")
    if first <= 0 or text[first - 1] != "\r":
        return text, None
    mask = next(c for c in ("\ue000", "\ue001", "\ue002", "\ufdd0", "\ufdd1") if c not in text)
    body = text.replace("\r\n", "\0").replace("\r", mask).replace("\n", mask).replace("\0", "\r\n")
    return body, mask


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open_binary(path) as f:
        raw = f.read()
    text = raw.decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise DataError(f"{path} is empty (expected a TSV with the header {' '.join(HEADER)})")
    if "\0" in text:
        text = text.replace("\0", "")
    text, mask = _crlf_records(text)
    if csv.field_size_limit() < (1 << 24):
        csv.field_size_limit(1 << 24)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise DataError(f"{path}: malformed TSV at line {reader.line_num}: {exc}") from None
    if mask is not None:
        rows = [[c.replace(mask, "\n") for c in row] for row in rows]
    return rows[0], rows[1:]


def _read_jsonl(path: Path, task: str | None, skips: SkipCounter) -> tuple[list[BenchItem], int]:
    """Usable lines of our JSONL held-out split; ``task=None`` keeps every described line whatever its GT."""
    items: list[BenchItem] = []
    key = "cwe" if task == "rcm" else "cvss_vector"
    n = 0
    with open_binary(path) as f:
        for i, line in enumerate(f):
            if not line.strip():
                continue
            n += 1
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                skips.skip("malformed_json", f"{path.name}:{i + 1}")
                continue
            if not isinstance(obj, dict):
                skips.skip("not_an_object", f"{path.name}:{i + 1}")
                continue
            desc = obj.get("description") or obj.get("text")
            raw_gt = str(obj.get(key) or obj.get("cwe") or obj.get("cvss_vector") or obj.get("gt") or "")
            gt = raw_gt.strip() if task is None else _gt(task, raw_gt)
            if not isinstance(desc, str) or not desc.strip():
                skips.skip("no_description", f"{path.name}:{i + 1}")
            elif gt is None:
                skips.skip("bad_gt", f"{path.name}:{i + 1}")
            else:
                items.append(BenchItem(str(obj.get("cve_id") or obj.get("id") or ""), desc.strip(), gt))
    if n == 0:
        raise DataError(f"{path} is empty")
    return items, n


def _tsv_items(p: Path, task: str | None, skips: SkipCounter) -> tuple[list[BenchItem], int]:
    """Usable rows of a CTI-Bench TSV; ``task=None`` keeps every described row whatever its GT."""
    header, rows = _rows(p)
    cols = {h.strip(): i for i, h in enumerate(header)}
    missing = [h for h in ("URL", "Description", "GT") if h not in cols]
    if missing:
        raise DataError(f"{p}: header {header[:6]} lacks {missing} (expected {' '.join(HEADER)}, tab-separated)")
    items: list[BenchItem] = []
    n = 0
    for i, row in enumerate(rows, start=2):
        if not any(c.strip() for c in row):
            continue
        n += 1
        if len(row) <= max(cols["URL"], cols["Description"], cols["GT"]):
            skips.skip("short_row", f"{p.name}:{i}")
            continue
        url, desc = row[cols["URL"]].strip(), row[cols["Description"]].strip()
        m = CVE_ID.search(url) or CVE_ID.search(desc)
        gt = row[cols["GT"]].strip() if task is None else _gt(task, row[cols["GT"]])
        if not desc:
            skips.skip("no_description", f"{p.name}:{i}")
        elif gt is None:
            skips.skip("bad_gt", f"{p.name}:{i}: {row[cols['GT']][:40]!r}")
        else:
            items.append(BenchItem(m.group(0).upper() if m else "", desc, gt, url))
    return items, n


def _open_checked(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"benchmark file not found: {p}")
    return p


def read_bench(path: str | Path, task: str) -> BenchSet:
    """Read a CTI-Bench TSV (``URL  Description  Prompt  GT``) or our JSONL held-out split.

    Parameters
    ----------
    path : ``.tsv`` (CTI-Bench format, LF or CRLF records; compressed ok) or ``.jsonl`` (``cve_id``,
        ``description`` and ``cwe`` / ``cvss_vector`` per line).
    task : ``"rcm"`` (GT is a CWE ID) or ``"vsp"`` (GT is a CVSS v3.x vector).

    Returns
    -------
    BenchSet
        Rows without a description or with a GT that is not a valid CWE ID / vector are counted in
        ``skips`` (``no_description``, ``bad_gt``, ``short_row``), never silently dropped.

    Raises
    ------
    DataError
        Missing or empty file, a header without the URL/Description/GT columns, or no usable row.
    """
    if task not in TASKS:
        raise DataError(f"unknown benchmark task {task!r}; known: {TASKS}")
    p = _open_checked(path)
    skips = SkipCounter()
    if ".jsonl" in p.name:
        items, n = _read_jsonl(p, task, skips)
    else:
        items, n = _tsv_items(p, task, skips)
    if not items:
        raise DataError(f"{p}: no usable {task.upper()} rows out of {n} (skips: {skips.as_dict()})")
    return BenchSet(task, items, str(p), skips.as_dict(), n)


def read_bench_texts(path: str | Path) -> BenchSet:
    """The protected records of a benchmark file, for decontamination: every row with a description.

    Decontamination needs the CVE ID and the text, not a valid answer: a row whose GT is malformed
    is still a benchmark record that must not leak into training. ``task`` is ``"rcm"`` or ``"vsp"``
    when most GTs are CWE IDs or CVSS vectors (else ``"unknown"``), for the report.

    Raises
    ------
    DataError
        Missing or empty file, wrong header, or not one row with a description (naming the file and
        the expected format): a benchmark that protects nothing must stop the run, not pass silently.
    """
    p = _open_checked(path)
    skips = SkipCounter()
    if ".jsonl" in p.name:
        items, n = _read_jsonl(p, None, skips)
    else:
        items, n = _tsv_items(p, None, skips)
    if not items:
        raise DataError(
            f"{p}: no benchmark row with a description out of {n} (skips: {skips.as_dict()}); expected a "
            f"tab-separated file with the header {' '.join(HEADER)} (CTI-Bench) or JSONL with cve_id and description"
        )
    votes = Counter("rcm" if _gt("rcm", it.gt) else "vsp" if _gt("vsp", it.gt) else "unknown" for it in items)
    task = votes.most_common(1)[0][0]
    return BenchSet(task, items, str(p), skips.as_dict(), n)


def write_bench_tsv(path: str | Path, task: str, rows: Sequence[tuple[str, str, str]]) -> Path:
    """Write ``(cve_id, description, gt)`` rows as a CTI-Bench-format TSV (our held-out splits)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    prompt = _RCM_PROMPT if task == "rcm" else _VSP_PROMPT
    with open(p, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(HEADER)
        for cve_id, desc, gt in rows:
            # csv quotes fields holding "\n" but not a lone "\r", which readers then take for a line end
            desc = desc.replace("\r\n", "\n").replace("\r", "\n")
            w.writerow([f"https://nvd.nist.gov/vuln/detail/{cve_id}", desc, prompt + desc, gt])
    return p


def __getattr__(name: str) -> Any:
    """``evaluate_rcm``/``evaluate_vsp`` moved to :mod:`distilsec.evaluation.cve_metrics` (kept here one release).

    Loaded on first use, not imported at the top: a reader (data layer) must not import evaluation code.
    """
    if name in ("evaluate_rcm", "evaluate_vsp"):
        import importlib

        return getattr(importlib.import_module("distilsec.evaluation.cve_metrics"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _main() -> None:  # pragma: no cover - debugging aid: python -m distilsec.data.readers.cti_bench FILE TASK
    b = read_bench(sys.argv[1], sys.argv[2])
    print(len(b.items), b.skips)


if __name__ == "__main__":  # pragma: no cover
    _main()
