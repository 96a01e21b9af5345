"""Per-source and per-platform label counts: the tables that show where a label shortcut can hide."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from distilsec.data.example import Example

__all__ = ["breakdown_counts", "label_key", "UNKNOWN"]

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
