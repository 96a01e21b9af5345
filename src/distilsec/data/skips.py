"""Counted skips: bad records are logged and counted, never silently lost and never a traceback."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["SkipCounter"]

log = logging.getLogger("distilsec.data")


@dataclass
class SkipCounter:
    """Counts skipped records by reason; the first few of each reason are logged with their location.

    Readers take an optional ``skips`` argument; the run report prints ``skips.counts`` so that a user
    sees how many records were dropped and why.

    Records that were *kept but changed* (a page cut at the size cap, NUL bytes replaced) are counted
    apart, with :meth:`note`, in ``notes``: they are not skips, so ``total`` and ``as_dict`` leave them out,
    but a user still sees how often the reader altered what it read.

    The rule every reader keeps: each row of its input is either yielded or counted here exactly once,
    so that rows in = rows yielded + ``total`` (blank lines are layout, not rows). Hence a record that
    is kept must never be a skip, and a dropped one must never be counted twice; the property tests in
    ``tests/data/readers/test_row_accounting.py`` check it for every format.
    """

    max_logged_per_reason: int = 5
    counts: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str, where: str = "") -> None:
        """Record one skipped record; ``reason`` is a short stable key, ``where`` says file:line."""
        self.counts[reason] += 1
        if self.counts[reason] <= self.max_logged_per_reason:
            log.warning("skipped record (%s)%s", reason, f" at {where}" if where else "")

    def note(self, reason: str, where: str = "") -> None:
        """Record one record that was kept but altered (e.g. ``page_truncated``); logged like a skip."""
        self.notes[reason] += 1
        if self.notes[reason] <= self.max_logged_per_reason:
            log.info("kept record, altered (%s)%s", reason, f" at {where}" if where else "")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        """Skips by reason (notes are not skips: see :meth:`notes_dict`)."""
        return dict(sorted(self.counts.items()))

    def notes_dict(self) -> dict[str, int]:
        """Kept-but-altered records by reason."""
        return dict(sorted(self.notes.items()))
