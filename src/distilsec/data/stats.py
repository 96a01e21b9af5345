"""Per-source and per-platform label counts: the tables that show where a label shortcut can hide."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from distilsec.data.example import Example

__all__ = ["breakdown_counts", "label_key", "UNKNOWN", "row_accounting_problems"]

log = logging.getLogger("distilsec.data")

UNKNOWN = "(unknown)"


def label_key(label: str | None) -> str:
    """A JSON-safe key for a label (``None`` -> ``"(unlabelled)"``)."""
    return "(unlabelled)" if label is None else str(label)


def _cross(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for row, label in pairs:
        out[row][label] += 1
    return {row: dict(sorted(c.items())) for row, c in sorted(out.items())}


def breakdown_counts(examples: Iterable[Example]) -> dict[str, Any]:
    """Counts by label, source x label and platform x label.

    Parameters
    ----------
    examples : any examples.

    Returns
    -------
    dict
        ``{"n": int, "by_label": {label: n}, "by_source": {source: {label: n}},
        "by_platform": {platform: {label: n}}}``; empty source/platform are ``"(unknown)"``.

    Notes
    -----
    Why: in security data a label is usually given per source (all LOLBAS rows are malicious, all
    tldr rows benign), and sources differ by platform. A source or platform that holds one label
    only is a shortcut; these tables make that visible before any model is trained.
    """
    rows = [(ex.source or UNKNOWN, ex.platform or UNKNOWN, label_key(ex.label)) for ex in examples]
    return {
        "n": len(rows),
        "by_label": dict(sorted(Counter(r[2] for r in rows).items())),
        "by_source": _cross((r[0], r[2]) for r in rows),
        "by_platform": _cross((r[1], r[2]) for r in rows),
    }


def _adds_up(what: str, rows_in: int, read: int, skips: Mapping[str, int]) -> list[str]:
    skipped = sum(skips.values())
    if rows_in == read + skipped:
        return []
    return [f"{what}: rows in {rows_in} != read {read} + skipped {skipped} ({dict(skips)})"]


def row_accounting_problems(report: Mapping[str, Any]) -> list[str]:
    """Check that every row read is accounted for; log one error line per gap and return them.

    Parameters
    ----------
    report : a data report with ``rows_in``, ``read``, ``read_skips`` and optionally ``read_by_input``
        (input -> ``{"rows_in", "read", "skips"}``, as :func:`distilsec.tasks.loaders.load_examples` fills it).

    Returns
    -------
    list[str]
        The gaps found (empty when rows in = rows read + rows skipped, for the whole and for each input,
        and the inputs add up to the whole).

    Notes
    -----
    Why an error line and not an exception: the examples themselves are fine; a gap means a count was
    lost on the way (a reader or a merge that forgot a row), and the user should see it in the console
    and the log without losing the run. Readers do not report their physical row count, so the check
    is one of consistency between the counters, not a second reading of the files.
    """
    problems = _adds_up("all inputs", int(report["rows_in"]), int(report["read"]), report["read_skips"])
    by_input: Mapping[str, Mapping[str, Any]] = report.get("read_by_input") or {}
    for name, row in by_input.items():
        problems += _adds_up(name, int(row["rows_in"]), int(row["read"]), row["skips"])
    if by_input:
        skips_sum: Counter[str] = Counter()
        for row in by_input.values():
            skips_sum.update(row["skips"])
        read_sum = sum(int(row["read"]) for row in by_input.values())
        if read_sum != report["read"] or dict(skips_sum) != dict(report["read_skips"]):
            problems.append(
                f"the inputs add up to read {read_sum}, skips {dict(sorted(skips_sum.items()))}; "
                f"the totals say read {report['read']}, skips {dict(report['read_skips'])}"
            )
    for problem in problems:
        log.error("row accounting does not add up (%s); please report this as a bug", problem)
    return problems
