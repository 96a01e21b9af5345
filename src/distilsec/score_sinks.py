"""Where scored rows go: JSON Lines, CSV or Parquet, written batch by batch (bounded memory).

Every format carries the same columns: ``row`` (input position), ``id`` (when the input had one),
``score``, ``label``, ``error`` (why a row could not be scored), and with ``proba`` one probability per
class (JSONL: a ``proba`` object; CSV and Parquet: ``p_<class>`` columns).
"""

from __future__ import annotations

import csv
import json
from typing import IO, Any

from distilsec.errors import DistilsecError

__all__ = ["OUTPUT_FORMATS", "Sink", "open_sink"]

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
BASE_COLUMNS = ["row", "id", "score", "label", "error"]


class Sink:
    """Writes lists of row dicts; ``close`` finishes the file (Parquet writes its footer then)."""

    def write(self, rows: list[dict[str, Any]]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        return None


class _JsonlSink(Sink):
    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, rows: list[dict[str, Any]]) -> None:
        self.out.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


class _CsvSink(Sink):
    def __init__(self, out: IO[str], classes: list[str] | None) -> None:
        self.classes = classes
        fields = BASE_COLUMNS + [f"p_{c}" for c in classes or []]
        self.writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        self.writer.writeheader()

    def write(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            if self.classes is not None and r.get("proba"):
                r = {**r, **{f"p_{c}": p for c, p in r["proba"].items()}}
            self.writer.writerow(r)


class _ParquetSink(Sink):
    def __init__(self, out: Any, classes: list[str] | None) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.classes = classes
        fields = [
            pa.field("row", pa.int64()),
            pa.field("id", pa.string()),
            pa.field("score", pa.float64()),
            pa.field("label", pa.string()),
            pa.field("error", pa.string()),
        ]
        fields += [pa.field(f"p_{c}", pa.float64()) for c in classes or []]
        self.schema = pa.schema(fields)
        self.writer = pq.ParquetWriter(out, self.schema)

    def write(self, rows: list[dict[str, Any]]) -> None:
        cols: dict[str, list[Any]] = {f.name: [] for f in self.schema}
        for r in rows:
            proba = r.get("proba") or {}
            for name in cols:
                if name.startswith("p_") and self.classes is not None and name[2:] in self.classes:
                    cols[name].append(proba.get(name[2:]))
                elif name == "id":
                    cols[name].append(None if r.get("id") is None else str(r["id"]))
                else:
                    cols[name].append(r.get(name))
        self.writer.write_table(self.pa.table(cols, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


def open_sink(fmt: str, out: Any, classes: list[str] | None = None) -> Sink:
    """A sink for ``fmt``; ``out`` is a text stream (jsonl, csv) or a binary stream / path (parquet).

    ``classes`` switches on the per-class probability columns.
    """
    if fmt == "jsonl":
        return _JsonlSink(out)
    if fmt == "csv":
        return _CsvSink(out, classes)
    if fmt == "parquet":
        return _ParquetSink(out, classes)
    raise DistilsecError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}, not {fmt!r}")
