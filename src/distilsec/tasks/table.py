"""The table task: your own labelled data, one file (CSV, TSV, JSONL or Parquet) named by ``data.path``.

The columns are configured (``data.text_column``, ``label_column``, ``group_column``, ``time_column``);
the group column, when given, is the unit a split keeps whole (a host, a user, a campaign).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError
from distilsec.tasks import Task
from distilsec.tasks.loaders import Input, counter_like

__all__ = ["TASK", "inputs"]


def inputs(data: Any, explicit: str | Path | None, skips: SkipCounter) -> Iterator[Input]:
    """The one configured file (``explicit``, the data directory, is not used: ``data.path`` is the file)."""
    from distilsec.data import readers

    if not data.path:
        raise DataError("data.task 'table' needs data.path (a CSV, JSONL or Parquet file)")
    sub = counter_like(skips)
    stream = readers.read_table(
        data.path,
        text_column=data.text_column,
        label_column=data.label_column,
        group_column=data.group_column,
        time_column=data.time_column,
        skips=sub,
        column_keys={role: f"data.{role}_column" for role in ("text", "label", "group", "time")},
    )
    yield Input(str(data.path), stream, sub)


TASK = Task(name="table", inputs=inputs, preprocess="none", split_unit="data.group_column (a host, a user...)")
