"""Bring your own data: any CSV / TSV / JSON Lines / Parquet table with a text column."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec._internal.textio import open_binary
from distilsec.data.example import Example
from distilsec.data.readers._common import clean_text, counter, csv_rows, need_file, strip_compression
from distilsec.data.readers.commands_jsonl import iter_json_objects
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["read_table", "TABLE_FORMATS"]

#: extension (after any .gz/.xz/.bz2) -> format
TABLE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_PARQUET_BATCH = 8192


@dataclass
class _Spec:
    """Which columns play which role; resolved once against the columns the file actually has."""

    path: Path
    text: str
    label: str | None
    group: str | None
    time: str | None
    source: str
    #: role ("text", "label", "group", "time") -> the setting a user changes to pick that column
    keys: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, columns: Sequence[str]) -> None:
        """Check the columns; ``url`` stands in for a missing default ``text`` column."""
        if self.text == "text" and "text" not in columns and "url" in columns:
            self.text = "url"
        roles = {"text": self.text, "label": self.label, "group": self.group, "time": self.time}
        missing = {role: c for role, c in roles.items() if c is not None and c not in columns}
        if missing:
            settings = ", ".join(f"{self.keys.get(role, f'{role}_column')} (now {c!r})" for role, c in missing.items())
            raise DataError(
                f"{self.path}: missing column(s) {list(missing.values())}; the file has columns {list(columns)}. "
                f"Set {settings} to one of the file's columns."
            )

    def example(self, rec: dict[str, Any], where: str, skips: SkipCounter) -> Example | None:
        text = clean_text(rec.get(self.text), where, skips)
        if text is None:
            return None
        roles = {self.text, self.label, self.group, self.time}
        return Example(
            text=text,
            label=(_cell(rec.get(self.label)) or None) if self.label else None,
            group=_cell(rec.get(self.group)) if self.group else "",
            source=self.source,
            time=_cell(rec.get(self.time)) if self.time else "",
            meta={k: v for k, v in rec.items() if k not in roles},
        )


def _cell(value: Any) -> str:
    """A label / group / time cell as a string; missing values (None, NaN, blank) become ``""``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


def read_table(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str | None = "label",
    group_column: str | None = None,
    time_column: str | None = None,
    source: str | None = None,
    skips: SkipCounter | None = None,
    column_keys: Mapping[str, str] | None = None,
) -> Iterator[Example]:
    """Stream examples from a user's own table: the "bring your own data" path.

    Parameters
    ----------
    path : a ``.csv``, ``.tsv``, ``.jsonl`` / ``.ndjson`` (each optionally ``.gz`` / ``.xz`` /
        ``.bz2``) or ``.parquet`` file; the format is taken from the extension.
    text_column : the column the model reads; when it is the default ``text`` and absent, ``url``
        is used if present (URL lists usually name their column so).
    label_column : the class column, or None for unlabelled data (``label`` is then None, e.g. for
        the unlabelled pool of semi-supervised learning). Blank cells also give ``None``.
    group_column : the split unit (host, user, binary...); rows are their own group when None.
    time_column : a date / timestamp column for time splits.
    source : the source id of every example; defaults to the file name without extensions.
    skips : counter for dropped rows (``malformed_row``, ``json_error``, ``empty_text``...).
    column_keys : role (``text``, ``label``, ``group``, ``time``) -> the name of the setting that picks
        that column where the caller took it from (``data.text_column`` in a config, ``--text-column``
        on a command line), so that a missing column's message names what the user can change;
        the parameter names (``text_column``...) by default.

    Returns
    -------
    Iterator[Example]
        One example per row; the other columns go into ``meta``. Parquet is read one record
        batch at a time, text formats one line at a time, so large files stream.

    Raises
    ------
    DataError
        When the file is missing or its extension unknown (at call time); when a required column is
        missing (the message names it and the columns found) or Parquet cannot be read (on the
        first ``next``).
    """
    p = need_file(path, "table", "a CSV, TSV, JSONL or Parquet file")
    inner = strip_compression(p.name)
    fmt = TABLE_FORMATS.get(Path(inner).suffix.lower())
    if fmt is None or (fmt == "parquet" and inner != p.name):
        raise DataError(
            f"{p}: unknown table format; expected one of {sorted(TABLE_FORMATS)} "
            "(text formats may end in .gz, .xz or .bz2)"
        )
    spec = _Spec(
        p, text_column, label_column, group_column, time_column, source or Path(inner).stem, dict(column_keys or {})
    )
    sk = counter(skips)
    if fmt == "parquet":
        return _iter_parquet(spec, sk)
    if fmt == "jsonl":
        return _iter_jsonl(spec, sk)
    return _iter_csv(spec, sk, "\t" if fmt == "tsv" else ",")


def _iter_csv(spec: _Spec, skips: SkipCounter, delimiter: str) -> Iterator[Example]:
    with open_binary(spec.path) as fh:
        rows = csv_rows(fh, spec.path.name, skips, delimiter=delimiter)
        header = next(rows, None)
        if header is None:
            skips.skip("empty_file", spec.path.name)
            return
        cols = [c.strip() for c in header[1]]
        spec.resolve(cols)
        for lineno, row in rows:
            where = f"{spec.path.name}:{lineno}"
            if len(row) != len(cols):
                skips.skip("malformed_row", where)
                continue
            ex = spec.example(dict(zip(cols, row, strict=True)), where, skips)
            if ex is not None:
                yield ex


def _iter_jsonl(spec: _Spec, skips: SkipCounter) -> Iterator[Example]:
    resolved = False
    for where, obj in iter_json_objects(spec.path, skips):
        if not resolved:  # the first object names the columns; later rows may omit optional ones
            spec.resolve(list(obj))
            resolved = True
        ex = spec.example(obj, where, skips)
        if ex is not None:
            yield ex


def _iter_parquet(spec: _Spec, skips: SkipCounter) -> Iterator[Example]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(spec.path)
        spec.resolve(list(pf.schema_arrow.names))
        batches = pf.iter_batches(batch_size=_PARQUET_BATCH)
        row = 0
        for batch in batches:
            for rec in batch.to_pylist():
                ex = spec.example(rec, f"{spec.path.name}#row{row}", skips)
                row += 1
                if ex is not None:
                    yield ex
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read Parquet file {spec.path}: {exc}") from exc
