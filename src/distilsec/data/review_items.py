"""The review queue on disk: the items an analyst may review, with what the models said about them.

``distilsec review`` computes the teacher's and students' probabilities on the run's splits once (the
training side: :mod:`distilsec.pipeline.review`) and writes them here, in the run folder's ``review/``:
``queue.json`` (the run's classes, models and thresholds, the ranked queue) and ``items.jsonl`` (one
item a line). The web page, the exchange formats and the retraining read this cache, so none of them loads
a model or the data again, and the web page imports no training code.

Texts are attacker-controlled (command lines, URLs, HTML): they are stored as JSON strings with every
non-ASCII character escaped, so invalid UTF-8 decoded with ``surrogateescape`` round-trips unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distilsec.errors import DataError

__all__ = ["ReviewItem", "ReviewCache", "read_review_cache", "write_review_cache", "REVIEW_DIR", "LEDGER_NAME"]

#: the review folder inside a run folder, and the ledger's file name in it
REVIEW_DIR = "review"
LEDGER_NAME = "ledger.jsonl"
QUEUE_FILE = "queue.json"
ITEMS_FILE = "items.jsonl"
CACHE_VERSION = 1


@dataclass
class ReviewItem:
    """One reviewable example and every label source's view of it.

    ``split`` is ``train``/``val``/``test`` or ``dropped`` (a record curation removed for a label
    conflict: ``conflict`` then maps each label to the sources that gave it). ``scores`` maps model name
    to its alert score (``1 - P(negative)``, what its threshold applies to); ``proba`` to its class
    probabilities in the cache's ``classes`` order; ``predicted`` to its label at its operating point.
    ``doubt`` is the out-of-fold probability that the original label is wrong (None where not computed).
    ``value`` is the queue's expected value of a review and ``reasons`` say why, in words; ``rank`` is the
    item's place in the queue (0 = first; None = not queued).
    """

    id: str
    split: str
    text: str
    label: str | None
    group: str = ""
    source: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    proba: dict[str, list[float]] = field(default_factory=dict)
    predicted: dict[str, str] = field(default_factory=dict)
    doubt: float | None = None
    value: float = 0.0
    reasons: list[str] = field(default_factory=list)
    rank: int | None = None
    neighbours: list[dict[str, Any]] = field(default_factory=list)
    rationale: str | None = None
    conflict: dict[str, list[str]] | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ReviewItem:
        known = {k: v for k, v in obj.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class ReviewCache:
    """``queue.json`` (``meta``) and the items by id; ``queue`` is the ranked item ids."""

    folder: Path
    meta: dict[str, Any]
    items: dict[str, ReviewItem]

    @property
    def queue(self) -> list[str]:
        return list(self.meta.get("queue", []))

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def ledger_path(self) -> Path:
        return self.folder / LEDGER_NAME

    def original_labels(self) -> dict[str, str]:
        return {i: it.label for i, it in self.items.items() if it.label is not None}


def write_review_cache(folder: str | Path, meta: dict[str, Any], items: list[ReviewItem]) -> Path:
    """Write ``items.jsonl`` then ``queue.json`` (each through a temporary file and a rename)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(asdict(it), ensure_ascii=True, allow_nan=False) + "\n" for it in items)
    _atomic_write(folder / ITEMS_FILE, lines)
    _atomic_write(folder / QUEUE_FILE, json.dumps({**meta, "version": CACHE_VERSION}, indent=1, allow_nan=False))
    return folder


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)


def read_review_cache(folder: str | Path) -> ReviewCache:
    """The cache in ``folder`` (a run's ``review/``); a DataError naming the file if absent or damaged."""
    folder = Path(folder)
    queue_file, items_file = folder / QUEUE_FILE, folder / ITEMS_FILE
    if not queue_file.is_file() or not items_file.is_file():
        raise DataError(f"{folder} holds no review queue: run `distilsec review RUN_DIR` to build it")
    try:
        meta = json.loads(queue_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{queue_file} is not readable JSON ({exc}): rebuild it with --rebuild") from None
    if not isinstance(meta, dict) or meta.get("version") != CACHE_VERSION or "classes" not in meta:
        raise DataError(f"{queue_file} is not a review queue of this distilsec: rebuild it with --rebuild")
    items: dict[str, ReviewItem] = {}
    with open(items_file, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                item = ReviewItem.from_json(json.loads(line))
            except (json.JSONDecodeError, TypeError) as exc:
                raise DataError(f"{items_file} line {n} is not a review item ({exc}): rebuild with --rebuild") from None
            items[item.id] = item
    return ReviewCache(folder, meta, items)
