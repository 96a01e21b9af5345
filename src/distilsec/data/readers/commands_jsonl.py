"""The pre-extracted ``commands.jsonl.gz`` (all command-line sources in one file, deduplicated)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distilsec._internal.textio import open_binary
from distilsec.data.example import Example
from distilsec.data.readers._common import clean_text, counter, need_file, numbered_lines
from distilsec.data.skips import SkipCounter

__all__ = ["read_commands_jsonl", "iter_json_objects"]

_CORE = ("id", "text", "label", "source", "group", "platform", "time")


def read_commands_jsonl(path: str | Path, *, skips: SkipCounter | None = None) -> Iterator[Example]:
    """Stream the records of ``commands.jsonl.gz`` (or any JSON Lines file of that shape).

    Parameters
    ----------
    path : the JSON Lines file; ``.gz``, ``.xz`` and ``.bz2`` are decompressed on the fly.
    skips : counter for dropped records (``json_error``, ``not_an_object``, ``empty_text``...).

    Returns
    -------
    Iterator[Example]
        One example per record. The upstream ``id`` is kept (it is what published splits refer to);
        ``id``, ``text``, ``label``, ``source``, ``group``, ``platform`` (and ``time`` when present)
        become fields and every other key (``upstream_path``, ``technique``, ``label_conflict``...)
        goes into ``meta``.

    Raises
    ------
    DataError
        When ``path`` is missing or a directory (raised at call time).
    """
    p = need_file(path, "command-line JSON Lines file", "commands.jsonl.gz: one JSON object per line")
    return _iter(p, counter(skips))


def iter_json_objects(path: Path, skips: SkipCounter) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` for each line of a JSON Lines file that is a JSON object; the rest is counted.

    Every non-blank line is one row: it is yielded, or counted once as ``json_error``, ``not_an_object``
    or ``field_too_long`` (a line over the 1 MiB cap, drained without being held).
    """
    with open_binary(path) as fh:
        for lineno, line in numbered_lines(fh, path.name, skips, too_long="field_too_long"):
            where = f"{path.name}:{lineno + 1}"
            if not line.strip():
                continue  # blank lines are padding, not records
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                skips.skip("json_error", where)
                continue
            if not isinstance(obj, dict):
                skips.skip("not_an_object", where)
                continue
            yield where, obj


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _iter(path: Path, skips: SkipCounter) -> Iterator[Example]:
    for where, obj in iter_json_objects(path, skips):
        text = clean_text(obj.get("text"), where, skips)
        if text is None:
            continue
        label = obj.get("label")
        yield Example(
            text=text,
            label=None if label is None or label == "" else str(label),
            group=_str(obj.get("group")),
            source=_str(obj.get("source")),
            platform=_str(obj.get("platform")),
            time=_str(obj.get("time")),
            id=_str(obj.get("id")),
            meta={k: v for k, v in obj.items() if k not in _CORE},
        )
