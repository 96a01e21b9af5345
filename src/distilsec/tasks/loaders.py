"""Task loaders: the examples of one task, read from upstream formats under the data directory.

Each task module (:mod:`distilsec.tasks.cmdline`, ``url``, ``html``, ``table``) says which inputs it reads
(its ``inputs`` function); this module reads them all the same way and keeps the row accounting.

Every row a reader yields is either kept or counted with a reason: rows of sources outside ``data.sources``
are ``source_not_selected`` skips, rows without a label ``unlabelled`` skips, and texts cut at
``data.max_text_chars`` are counted as ``text_truncated`` notes (kept, but altered). Each input (a file or
an upstream source) is counted on its own, so a report can say rows in = rows read + rows skipped per input.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["load_examples", "Input", "counter_like", "SOURCE_NOT_SELECTED", "TEXT_TRUNCATED"]

log = logging.getLogger("distilsec.data")

#: skip reason of rows whose source is not in ``data.sources`` (left out on purpose, but still counted)
SOURCE_NOT_SELECTED = "source_not_selected"
#: note reason of rows kept with their text cut to ``data.max_text_chars``
TEXT_TRUNCATED = "text_truncated"


@dataclass
class Input:
    """One input whose rows are counted apart: a file, or an upstream source folder.

    ``skips`` is the input's own counter (merged into the caller's at the end), so that the rows in
    of each input are known, not only those of the whole task.
    """

    name: str
    stream: Iterator[Example]
    skips: SkipCounter
    #: keep only examples of these sources (empty: keep all); the others are ``source_not_selected``
    sources: frozenset[str] = field(default_factory=frozenset)


def counter_like(skips: SkipCounter) -> SkipCounter:
    """A fresh counter for one input, logging as ``skips`` does (merged into it when the input is read)."""
    return SkipCounter(max_logged_per_reason=skips.max_logged_per_reason)


#: the names these had before the task modules were split out
_Input = Input
_counter_like = counter_like


def _inputs(data: Any, explicit: str | Path | None, skips: SkipCounter) -> Iterator[Input]:
    """The inputs of the configured task, in reading order (the task module's ``inputs``)."""
    from distilsec.tasks import get_task

    task = get_task(data.task, missing=None)
    if task is None or task.inputs is None:
        raise DataError(f"unknown task {data.task!r}")
    return task.inputs(data, explicit, skips)


def _collect(inp: Input, label_map: dict[str, str], max_chars: int, out: list[Example]) -> dict[str, Any]:
    """Append the input's kept examples to ``out``; return its row accounting.

    Returns ``{"rows_in", "read", "skips"[, "notes"]}`` where rows_in = read + the sum of skips.
    """
    read = 0
    seen: set[str] = set()
    for ex in inp.stream:
        seen.add(ex.source)
        if inp.sources and ex.source not in inp.sources:
            # left out on purpose: counted, but not logged row by row (one summary line is)
            inp.skips.counts[SOURCE_NOT_SELECTED] += 1
            continue
        label = label_map.get(ex.label, ex.label) if ex.label is not None else None
        if label is None:
            inp.skips.skip("unlabelled", ex.source)
            continue
        if label != ex.label:
            ex = ex.with_label(label)
        if len(ex.text) > max_chars:
            inp.skips.notes[TEXT_TRUNCATED] += 1
            ex = ex.with_text(ex.text[:max_chars])
        out.append(ex)
        read += 1
    absent = sorted(inp.sources - seen)
    if absent:  # most likely a typo: say so, with the names that do occur
        log.warning("data.sources names %s, which no row of %s has; its sources are %s", absent, inp.name, sorted(seen))
    row: dict[str, Any] = {"rows_in": read + inp.skips.total, "read": read, "skips": inp.skips.as_dict()}
    if inp.skips.notes:
        row["notes"] = inp.skips.notes_dict()
    return row


def _merge(into: SkipCounter, sub: SkipCounter) -> None:
    into.counts.update(sub.counts)
    into.notes.update(sub.notes)


def _log_summary(data: Any, skips: SkipCounter) -> None:
    """One line per deliberate change to what was read, naming the key that controls it."""
    left_out = skips.counts.get(SOURCE_NOT_SELECTED, 0)
    if left_out:
        log.info(
            "data.sources %s: %d rows of other sources left out (counted as %s)",
            sorted(data.sources),
            left_out,
            SOURCE_NOT_SELECTED,
        )
    cut = skips.notes.get(TEXT_TRUNCATED, 0)
    if cut:
        log.warning(
            "%d texts were cut to %d characters (data.max_text_chars; raise it to keep more of each text)",
            cut,
            data.max_text_chars,
        )


def load_examples(
    data: object,
    *,
    data_dir: str | Path | None = None,
    skips: SkipCounter | None = None,
    by_input: dict[str, dict[str, Any]] | None = None,
) -> list[Example]:
    """Read all examples of the configured task (``data`` is a ``DataSection``).

    Labels are mapped with ``data.label_map``; texts are cut to ``data.max_text_chars`` (counted in
    ``skips.notes["text_truncated"]``). Rows of sources outside ``data.sources`` are counted in
    ``skips.counts["source_not_selected"]``. When ``by_input`` is given, it receives each input's
    accounting (see :func:`_collect`), keyed by file path or source id: why a dict the caller owns
    and not a new return type: callers that only want the examples stay as they are.
    """
    skips = skips if skips is not None else SkipCounter()
    d: Any = data
    explicit = data_dir or d.data_dir
    label_map: dict[str, str] = d.label_map
    max_chars: int = d.max_text_chars
    out: list[Example] = []
    for inp in _inputs(d, explicit, skips):
        try:
            row = _collect(inp, label_map, max_chars, out)
        finally:  # skips seen before a reader error still reach the caller's counter
            _merge(skips, inp.skips)
        if by_input is not None:
            by_input[inp.name] = row
    _log_summary(d, skips)
    if not out:
        raise DataError(f"the {d.task} task read no labelled examples (skips: {skips.as_dict()})")
    log.info("read %d %s examples (%d skipped)", len(out), d.task, skips.total)
    return out


def __getattr__(name: str) -> Any:
    """``CMDLINE_SOURCES`` moved to :mod:`distilsec.tasks.cmdline`; read lazily to keep imports one-way."""
    if name == "CMDLINE_SOURCES":  # by name, so that import-linter sees no loaders <-> cmdline cycle
        return importlib.import_module("distilsec.tasks.cmdline").CMDLINE_SOURCES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
