"""What both exchange formats share: which items to export, reading a labelled file, appending decisions."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec.data.label_ledger import MAX_NAME_CHARS, LabelLedger, LedgerConflict
from distilsec.data.review_items import ReviewCache, ReviewItem
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["ImportResult", "export_items", "sniff_format", "read_json_rows", "model_views", "record_decision"]

#: a labelled file larger than this is refused before it is read (an export of 100k items is ~100 MB)
MAX_IMPORT_BYTES = 512 << 20


@dataclass
class ImportResult:
    """Rows read from the file = ``imported`` + ``skips.total`` (by reason)."""

    path: str
    format: str
    rows: int = 0
    imported: int = 0
    skips: SkipCounter = field(default_factory=SkipCounter)

    def summary(self) -> str:
        skipped = ", ".join(f"{k} {v}" for k, v in self.skips.as_dict().items()) or "none"
        return f"{self.path} ({self.format}): {self.rows} rows, {self.imported} decisions imported, skipped: {skipped}"


def export_items(cache: ReviewCache, items: str) -> list[ReviewItem]:
    """``queue`` (ranked, best first), ``all`` (queue first, then the rest) or ``decided`` (with a ledger
    decision) items of the cache."""
    if items not in ("queue", "all", "decided"):
        raise DataError(f"--items {items!r}: use queue, all or decided")
    queued = [cache.items[i] for i in cache.queue if i in cache.items]
    if items == "queue":
        return queued
    if items == "decided":
        decided = LabelLedger(cache.ledger_path).state().decisions
        return [it for it in cache.items.values() if it.id in decided]
    seen = {it.id for it in queued}
    return queued + [it for it in cache.items.values() if it.id not in seen]


def model_views(cache: ReviewCache, item: ReviewItem) -> list[dict[str, Any]]:
    """Each model's view of an item: role, ``model_version``, predicted label and its probability."""
    classes = cache.classes
    out = []
    for role, info in (cache.meta.get("models") or {}).items():
        pred = item.predicted.get(role)
        proba = item.proba.get(role)
        if pred is None or proba is None:
            continue
        score = proba[classes.index(pred)] if pred in classes else max(proba)
        out.append(
            {
                "role": role,
                "version": info.get("version", role),
                "label": pred,
                "score": round(score, 4),
                "alert_score": item.scores.get(role),
            }
        )
    return out


def sniff_format(path: Path) -> str:
    """``label-studio`` or ``argilla``, from the file's suffix and first record."""
    if path.suffix == ".parquet":
        return "argilla"
    rows = read_json_rows(path)
    first = rows[0] if rows else {}
    ls_keys = {"annotations", "annotation_id", "annotator", "predictions"}
    if isinstance(first, dict) and (ls_keys & set(first) or ("data" in first and "id" in first)):
        return "label-studio"
    return "argilla"


def read_json_rows(path: Path) -> list[Any]:
    """A JSON list, or JSON lines, as a list of rows (a DataError naming the file otherwise)."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise DataError(f"{path} is over {MAX_IMPORT_BYTES >> 20} MB: split the export")
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            rows = json.loads(stripped)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not JSON or JSON lines ({exc})") from None
    if not isinstance(rows, list):
        raise DataError(f"{path} must hold a list of records")
    return rows


def clean_who(prefix: str, raw: Any, default: str) -> str:
    """An annotator as an analyst name: ``prefix:name``, printable, at most the ledger's length."""
    name = str(raw).strip() if raw not in (None, "") else default
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C") or default
    return f"{prefix}:{name}"[:MAX_NAME_CHARS]


def clean_time(raw: Any) -> str | None:
    """An annotation time kept when it is an ISO date/time, else None (the import time is used)."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    try:
        dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return raw


def record_decision(
    result: ImportResult,
    cache: ReviewCache,
    ledger: LabelLedger,
    *,
    item_id: Any,
    label: Any,
    who: str,
    note: str,
    ext: str,
    at: str | None,
    source: str,
    where: str,
) -> None:
    """Append one imported decision, or count why it was skipped."""
    if not isinstance(item_id, str) or not item_id:
        result.skips.skip("no_item_id", where)
        return
    item = cache.items.get(item_id)
    if item is None:
        result.skips.skip("unknown_item", where)
        return
    if not isinstance(label, str) or label not in cache.classes:
        result.skips.skip("no_label" if label in (None, "", []) else "unknown_label", where)
        return
    try:
        ledger.append(
            "label",
            item_id,
            who=who,
            new=label,
            note=note[:2000],
            split=item.split,
            source=source,
            ext=ext[:500],
            at=at,
        )
    except LedgerConflict:
        result.skips.skip("already_imported", where)
        return
    result.imported += 1
