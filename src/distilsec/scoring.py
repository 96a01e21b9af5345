"""Streaming scoring: text lines, JSONL or CSV in; one JSONL/CSV row per input out; bounded memory.

A row that cannot be read (bad JSON, no text field) still gets an output row, with ``error`` set and
no score, so outputs stay aligned with inputs and nothing is dropped silently.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from distilsec._internal.textio import MAX_LINE_BYTES, open_binary, read_capped_lines
from distilsec.bundle import load_model, read_manifest
from distilsec.errors import BundleError, DataError
from distilsec.preprocess import get_preprocessor

__all__ = ["ScoringModel", "iter_records", "score_stream", "ScoreStats", "detect_format"]

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
    """A loaded bundle plus what scoring needs from its manifest: preprocessing and the threshold."""

    def __init__(self, bundle_dir: str | Path) -> None:
        self.manifest = read_manifest(bundle_dir)
        self.model = load_model(bundle_dir)
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

    def score_texts(self, texts: list[str]) -> tuple[np.ndarray, list[str]]:
        prepared = [self.preprocess(t[: self.max_chars]) for t in texts]
        proba = self.model.predict_proba(prepared)
        s = self.scores(proba)
        return s, self.labels(proba, s)


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
        header = next(csv.reader([header_line[0]], delimiter=delim))
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


def score_stream(
    model: ScoringModel,
    source: str,
    out: IO[str],
    *,
    input_format: str = "auto",
    output_format: str = "jsonl",
    batch_size: int = 2048,
    on_batch: Any = None,
) -> ScoreStats:
    """Score every record of ``source`` (a path or ``-``) and write one row per record to ``out``."""
    stats = ScoreStats()
    raw = _open_input(source)
    stream = io.BufferedReader(raw) if not isinstance(raw, io.BufferedReader) and source != "-" else raw
    fmt = input_format
    if fmt == "auto":
        first = (
            stream.peek(4096)[:4096].split(b"\n", 1)[0].decode("utf-8", "replace") if hasattr(stream, "peek") else None
        )
        fmt = detect_format(source, first)
    writer = None
    if output_format == "csv":
        writer = csv.DictWriter(out, fieldnames=["row", "id", "score", "label", "error"], extrasaction="ignore")
        writer.writeheader()
    pending: list[tuple[dict[str, Any], str | None]] = []
    row_no = 0

    def flush() -> None:
        nonlocal row_no
        texts = [t for _, t in pending if t is not None]
        scores, labels = model.score_texts(texts) if texts else (np.zeros(0), [])
        k = 0
        for extra, text in pending:
            rec: dict[str, Any] = {"row": row_no, **extra}
            row_no += 1
            if text is not None:
                rec["score"] = round(float(scores[k]), 6)
                rec["label"] = labels[k]
                k += 1
                stats.n_scored += 1
            else:
                rec.setdefault("score", None)
                rec.setdefault("label", None)
            if writer is not None:
                writer.writerow(rec)
            else:
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        if on_batch is not None:
            on_batch(len(pending))
        pending.clear()

    try:
        for item in iter_records(stream, fmt, stats):
            pending.append(item)
            if len(pending) >= batch_size:
                flush()
        if pending:
            flush()
    finally:
        if source != "-":
            stream.close()
    return stats
