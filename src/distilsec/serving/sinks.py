"""Where scored rows go: JSON Lines, CSV or Parquet, written batch by batch (bounded memory).

Every format carries the same columns: ``row`` (input position), ``id`` (when the input had one),
``score``, ``label``, ``error`` (why a row could not be scored), and with ``proba`` one probability per
class (JSONL: a ``proba`` object; CSV and Parquet: ``p_<class>`` columns).
"""

from __future__ import annotations

import csv
import json
import math
from typing import IO, Any

import numpy as np

from distilsec.errors import DistilsecError

__all__ = ["OUTPUT_FORMATS", "Sink", "open_sink", "make_rows"]

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
BASE_COLUMNS = ["row", "id", "score", "label", "error"]


Items = list[tuple[dict[str, Any], "str | None"]]
Result = tuple[np.ndarray, list[str], np.ndarray]


def make_rows(
    items: list[tuple[dict[str, Any], str | None]],
    result: tuple[np.ndarray, list[str], np.ndarray],
    start_row: int,
    classes: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Output rows for one batch: scored records get score/label (+ proba), unreadable ones keep ``error``.

    ``result`` holds the scores of the readable records only, in order; ``classes`` switches on ``proba``.
    """
    scores, labels, proba = result
    rows = []
    k = 0
    for i, (extra, text) in enumerate(items):
        rec: dict[str, Any] = {"row": start_row + i, **extra}
        if text is not None:
            rec["score"] = round(float(scores[k]), 6)
            rec["label"] = labels[k]
            if classes is not None:
                rec["proba"] = {c: round(float(p), 6) for c, p in zip(classes, proba[k], strict=True)}
            k += 1
        else:
            rec.setdefault("score", None)
            rec.setdefault("label", None)
        rows.append(rec)
    return rows


class Sink:
    """Writes lists of row dicts; ``close`` finishes the file (Parquet writes its footer then)."""

    def write(self, rows: list[dict[str, Any]]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def write_batch(self, items: Items, result: Result, start_row: int, classes: list[str] | None = None) -> None:
        """Write one scored batch (see :func:`make_rows`); sinks may do it without dicts."""
        self.write(make_rows(items, result, start_row, classes))

    def close(self) -> None:
        return None


class _JsonlSink(Sink):
    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, rows: list[dict[str, Any]]) -> None:
        self.out.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    def write_batch(self, items: Items, result: Result, start_row: int, classes: list[str] | None = None) -> None:
        """The same bytes as ``json.dumps`` of :func:`make_rows`' dicts, formatted directly.

        Building a dict and encoding it per row was a fifth of ``distilsec score``'s time on short events;
        rows with an error or class probabilities still take the general path. A test holds the two equal.
        """
        if classes is not None:
            super().write_batch(items, result, start_row, classes)
            return
        scores, labels, proba = result
        values = [round(v, 6) for v in np.asarray(scores, dtype=np.float64).tolist()]
        label_json = {c: json.dumps(c, ensure_ascii=False) for c in set(labels)}
        lines = []
        k = 0
        for i, (extra, text) in enumerate(items):
            row = start_row + i
            if text is None or len(extra) > ("id" in extra) or not math.isfinite(values[k]):
                one = make_rows([(extra, text)], (scores[k : k + 1], labels[k : k + 1], proba[k : k + 1]), row)
                lines.append(json.dumps(one[0], ensure_ascii=False))
                k += text is not None
                continue
            ident = f'"id": {json.dumps(extra["id"], ensure_ascii=False)}, ' if extra else ""
            lines.append(f'{{"row": {row}, {ident}"score": {values[k]!r}, "label": {label_json[labels[k]]}}}')
            k += 1
        if lines:
            self.out.write("\n".join(lines) + "\n")


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
