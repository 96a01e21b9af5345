"""Streaming scoring: text lines, JSONL or CSV in; one JSONL/CSV/Parquet row per input out; bounded memory.

A row that cannot be read (bad JSON, no text field) still gets an output row, with ``error`` set and
no score, so outputs stay aligned with inputs and nothing is dropped silently.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from distilsec._internal.textio import MAX_LINE_BYTES, open_binary, read_capped_lines
from distilsec.bundle import read_manifest
from distilsec.errors import BundleError, DataError
from distilsec.preprocess import get_preprocessor

__all__ = [
    "ScoringModel",
    "iter_records",
    "score_stream",
    "ScoreStats",
    "detect_format",
    "open_records",
    "batched",
    "make_rows",
]

TEXT_FIELDS = ("text", "url", "command_line", "commandline", "cmdline")


@dataclass
class ScoreStats:
    n_rows: int = 0
    n_scored: int = 0
    n_errors: int = 0
    n_truncated: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, reason: str) -> None:
        self.n_errors += 1
        self.errors[reason] = self.errors.get(reason, 0) + 1


class ScoringModel:
    """A loaded bundle plus what scoring needs from its manifest: preprocessing and the threshold.

    ``runtime`` picks the engine (see :mod:`distilsec.runtime`): "auto" runs ``model.onnx`` when the
    bundle has one and the native model otherwise; "native"/"torch", "onnx", "onnx-int8" force one.
    """

    def __init__(self, bundle_dir: str | Path, runtime: str = "auto", threads: int | None = None) -> None:
        from distilsec.runtime import load_runtime_model

        self.bundle_dir = Path(bundle_dir)
        self.manifest = read_manifest(bundle_dir)
        self.model, self.runtime = load_runtime_model(bundle_dir, runtime, threads)
        self.classes = list(self.model.classes_)
        self.threshold = self.manifest.get("threshold")
        self.negative = self.manifest.get("negative", "benign")
        self.positive = self.manifest.get("positive", "malicious")
        self.preprocess = get_preprocessor(self.manifest.get("preprocess", "none"))
        self.max_chars = int(self.manifest.get("max_text_chars", 4096))
        if self.negative not in self.classes and self.positive not in self.classes:
            raise BundleError(f"bundle classes {self.classes} contain neither {self.negative!r} nor {self.positive!r}")

    def scores(self, proba: np.ndarray) -> np.ndarray:
        """Probability of 'not benign' (positive/malicious), also right for multi-class bad subtypes."""
        if self.negative in self.classes:
            return 1.0 - proba[:, self.classes.index(self.negative)]
        return proba[:, self.classes.index(self.positive)]

    def labels(self, proba: np.ndarray, scores: np.ndarray) -> list[str]:
        threshold = 0.5 if self.threshold is None else float(self.threshold)
        if self.negative not in self.classes:
            return [
                self.positive if s >= threshold else self.classes[int(np.argmax(p))]
                for p, s in zip(proba, scores, strict=True)
            ]
        neg = self.classes.index(self.negative)
        masked = proba.copy()
        masked[:, neg] = -1.0
        best_bad = masked.argmax(axis=1)
        pairs = zip(best_bad, scores, strict=True)
        return [self.classes[b] if s >= threshold else self.negative for b, s in pairs]

    def score_batch(self, texts: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Scores, thresholded labels and the full class probabilities of raw texts."""
        if not texts:  # an empty batch is a valid request, not a model call
            return np.zeros(0), [], np.zeros((0, len(self.classes)))
        prepared = [self.preprocess(t[: self.max_chars]) for t in texts]
        proba = self.model.predict_proba(prepared)
        s = self.scores(proba)
        return s, self.labels(proba, s), proba

    def score_texts(self, texts: list[str]) -> tuple[np.ndarray, list[str]]:
        s, labels, _ = self.score_batch(texts)
        return s, labels


def detect_format(path: str, first_line: str | None) -> str:
    lower = path.lower()
    for ext, fmt in (
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "jsonl"),
        (".csv", "csv"),
        (".tsv", "tsv"),
    ):
        if lower.endswith(ext) or lower.endswith(ext + ".gz"):
            return fmt
    if first_line is not None and first_line.lstrip().startswith("{"):
        return "jsonl"
    return "lines"


def _text_from_mapping(row: dict[str, Any]) -> str | None:
    for key in TEXT_FIELDS:
        v = row.get(key)
        if isinstance(v, str):
            return v
    return None


def iter_records(stream: IO[bytes], fmt: str, stats: ScoreStats) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Yield (passthrough fields, text or None) per input row; None means the row had an error."""
    lines = read_capped_lines(stream, MAX_LINE_BYTES)
    if fmt in ("csv", "tsv"):
        header_line = next(lines, None)
        if header_line is None:
            return
        delim = "\t" if fmt == "tsv" else ","
        try:
            header = next(csv.reader([header_line[0]], delimiter=delim), [])
        except csv.Error as exc:  # e.g. a stray carriage return in the header line
            raise DataError(f"malformed CSV header line: {exc}") from None
        field_idx = next((header.index(f) for f in TEXT_FIELDS if f in header), None)
        if field_idx is None:
            raise DataError(f"CSV input needs one of the columns {TEXT_FIELDS}; found {header}")
        id_idx = header.index("id") if "id" in header else None

        # csv handles quoted fields that span lines: feed it a line iterator.
        def _raw() -> Iterator[str]:
            for line, truncated in lines:
                if truncated:
                    stats.n_truncated += 1
                yield line

        reader = csv.reader(_raw(), delimiter=delim)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                stats.n_rows += 1
                stats.error("malformed_csv")
                yield {"error": "malformed CSV row"}, None
                continue
            stats.n_rows += 1
            if field_idx >= len(row):
                stats.error("missing_text")
                yield {"error": f"row has no '{header[field_idx]}' value"}, None
                continue
            extra = {"id": row[id_idx]} if id_idx is not None and id_idx < len(row) else {}
            yield extra, row[field_idx]
        return
    for line, truncated in lines:
        if truncated:
            stats.n_truncated += 1
        if fmt == "lines":
            stats.n_rows += 1
            yield {}, line
            continue
        if not line.strip():
            continue  # blank lines in JSONL are not records
        stats.n_rows += 1
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            stats.error("malformed_json")
            yield {"error": "malformed JSON"}, None
            continue
        if not isinstance(obj, dict):
            stats.error("not_an_object")
            yield {"error": "JSON row is not an object"}, None
            continue
        text = _text_from_mapping(obj)
        extra = {"id": obj["id"]} if isinstance(obj.get("id"), (str, int)) else {}
        if text is None:
            stats.error("missing_text")
            yield {**extra, "error": f"no text field (one of {list(TEXT_FIELDS)})"}, None
            continue
        yield extra, text


def _open_input(source: str) -> IO[bytes]:
    if source == "-":
        return sys.stdin.buffer
    return open_binary(source)


def open_records(source: str, input_format: str = "auto") -> tuple[IO[bytes], str]:
    """Open ``source`` (a path or ``-``) and settle its format; the caller closes the stream."""
    raw = _open_input(source)
    stream = io.BufferedReader(raw) if not isinstance(raw, io.BufferedReader) and source != "-" else raw
    fmt = input_format
    if fmt == "auto":
        first = (
            stream.peek(4096)[:4096].split(b"\n", 1)[0].decode("utf-8", "replace") if hasattr(stream, "peek") else None
        )
        fmt = detect_format(source, first)
    return stream, fmt


def batched(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Lists of at most ``size`` consecutive items (the last one may be shorter)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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


def score_stream(
    model: ScoringModel,
    source: str,
    out: IO[Any],
    *,
    input_format: str = "auto",
    output_format: str = "jsonl",
    batch_size: int = 2048,
    on_batch: Callable[[int], Any] | None = None,
    workers: int = 0,
    proba: bool = False,
) -> ScoreStats:
    """Score every record of ``source`` (a path or ``-``) and write one row per record to ``out``.

    ``out`` is a text stream for jsonl/csv and a binary stream or path for parquet. ``workers`` > 1
    scores batches in that many processes (order kept, memory bounded); ``proba`` adds every class
    probability (the teacher-labelling job).
    """
    from distilsec.runtime.parallel import score_batches
    from distilsec.score_sinks import open_sink

    stats = ScoreStats()
    stream, fmt = open_records(source, input_format)  # a missing input fails before any output is written
    row_no = 0
    try:
        sink = open_sink(output_format, out, model.classes if proba else None)
        records = iter_records(stream, fmt, stats)
        for items, result in score_batches(model, batched(records, batch_size), workers):
            rows = make_rows(items, result, row_no, model.classes if proba else None)
            row_no += len(rows)
            stats.n_scored += len(result[1])
            sink.write(rows)
            if on_batch is not None:
                on_batch(len(rows))
        sink.close()
    finally:
        if source != "-":
            stream.close()
    return stats
