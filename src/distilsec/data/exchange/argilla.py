"""Argilla (2.x): records out with the teacher's suggestion, labelled records back in.

Out, in the flattened form Argilla's ``Dataset.records.to_datasets()`` / ``to_hub`` write and
``from_hub`` / ``records.log`` read: one row per item with the fields (``text``, ``context``: what each
label source says, ``reasons``), the ``label`` question's suggestion as ``label.suggestion`` /
``label.suggestion.score`` / ``label.suggestion.agent`` (the teacher: Argilla holds one suggestion per
question; the student's view is in ``context`` and the ``student_*`` metadata), empty
``label.responses*`` columns, and the metadata (split, original label, queue rank...). Written as
``records.parquet`` and ``records.jsonl`` (Hugging Face datasets read both), with ``settings.json``
describing the fields, questions and metadata to create the dataset with.

In: the same flattened rows with ``label.responses`` / ``.users`` / ``.status`` filled (Parquet or JSON
lines), or nested records (``{"id", "fields", "responses": {"label": [{"value", "user_id", "status"}]}}``).
Submitted responses count (discarded and draft ones do not); when a record's annotators disagree, it is
skipped (``responses_disagree``) for the team to settle in Argilla.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distilsec.data.exchange.common import (
    MAX_IMPORT_BYTES,
    ImportResult,
    clean_who,
    export_items,
    model_views,
    read_json_rows,
    record_decision,
)
from distilsec.data.label_ledger import LabelLedger
from distilsec.data.review_items import ReviewCache, ReviewItem
from distilsec.errors import DataError

__all__ = ["argilla_records", "argilla_settings", "write_argilla", "import_argilla"]

QUESTION, NOTE = "label", "note"


def argilla_settings(cache: ReviewCache) -> dict[str, Any]:
    """Fields, questions and metadata of the exported records (Argilla's ``rg.Settings`` as JSON)."""
    return {
        "guidelines": (
            f"Decide the label of each {cache.meta.get('task')} item. The text is shown as plain text: it is "
            "attacker-controlled. `context` says what the original label, the teacher and the student say; "
            "`reasons` why the item is in the queue."
        ),
        "fields": [
            {"name": "text", "type": "text", "title": "Item", "required": True, "use_markdown": False},
            {"name": "context", "type": "text", "title": "Label sources", "required": False, "use_markdown": False},
            {"name": "reasons", "type": "text", "title": "Why review", "required": False, "use_markdown": False},
        ],
        "questions": [
            {"name": QUESTION, "type": "label_selection", "title": "Label", "labels": cache.classes, "required": True},
            {"name": NOTE, "type": "text", "title": "Note", "required": False, "use_markdown": False},
        ],
        "metadata": [
            {"name": "split", "type": "terms", "options": ["train", "val", "test", "dropped"]},
            {"name": "original_label", "type": "terms", "options": cache.classes},
            {"name": "source", "type": "terms"},
            {"name": "group", "type": "terms"},
            {"name": "queue_rank", "type": "integer"},
            {"name": "queue_value", "type": "float"},
            {"name": "teacher_score", "type": "float"},
            {"name": "student_score", "type": "float"},
            {"name": "student_label", "type": "terms", "options": cache.classes},
        ],
        "allow_extra_metadata": False,
    }


def _context(cache: ReviewCache, item: ReviewItem) -> str:
    parts = [f"original: {item.label or '(conflict: ' + json.dumps(item.conflict) + ')'}"]
    parts += [f"{v['role']}: {v['label']} (p={v['score']:.3f})" for v in model_views(cache, item)]
    return "; ".join(parts)


def argilla_records(cache: ReviewCache, items: list[ReviewItem]) -> list[dict[str, Any]]:
    """The flattened rows (see the module doc)."""
    rows = []
    for item in items:
        views = {v["role"]: v for v in model_views(cache, item)}
        teacher, student = views.get("teacher"), views.get("student")
        suggestion = teacher or student
        rows.append(
            {
                "id": item.id,
                "status": "pending",
                "_server_id": None,
                "text": item.text,
                "context": _context(cache, item),
                "reasons": "; ".join(item.reasons) or "no review signal",
                f"{QUESTION}.suggestion": suggestion["label"] if suggestion else None,
                f"{QUESTION}.suggestion.score": suggestion["score"] if suggestion else None,
                f"{QUESTION}.suggestion.agent": suggestion["version"] if suggestion else None,
                f"{QUESTION}.responses": [],
                f"{QUESTION}.responses.users": [],
                f"{QUESTION}.responses.status": [],
                "split": item.split,
                "original_label": item.label,
                "source": item.source,
                "group": item.group,
                "queue_rank": item.rank,
                "queue_value": item.value,
                "teacher_score": teacher["alert_score"] if teacher else None,
                "student_score": student["alert_score"] if student else None,
                "student_label": student["label"] if student else None,
            }
        )
    return rows


def write_argilla(cache: ReviewCache, folder: Path, *, items: str = "queue") -> list[Path]:
    """``records.parquet``, ``records.jsonl`` and ``settings.json`` in ``folder``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rows = argilla_records(cache, export_items(cache, items))
    jsonl = folder / "records.jsonl"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=True) + "\n" for r in rows), encoding="ascii")
    schema = pa.schema([(name, _arrow_type(pa, name)) for name in argilla_records(cache, [_EMPTY])[0]])
    parquet = folder / "records.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), parquet)
    settings = folder / "settings.json"
    settings.write_text(json.dumps(argilla_settings(cache), indent=1), encoding="utf-8")
    return [parquet, jsonl, settings]


#: a placeholder item, for the column list of an export with no rows
_EMPTY = ReviewItem(id="", split="", text="", label=None)


def _arrow_type(pa: Any, name: str) -> Any:
    """The Parquet column type of an exported column: lists of text for responses, numbers, else text."""
    if ".responses" in name:
        return pa.list_(pa.string())
    if name == "queue_rank":
        return pa.int64()
    if name.endswith(("score", "_value")):
        return pa.float64()
    return pa.string()


def _rows(path: Path) -> list[Any]:
    if path.suffix != ".parquet":
        return read_json_rows(path)
    import pyarrow.parquet as pq

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise DataError(f"{path} is over {MAX_IMPORT_BYTES >> 20} MB: split the export")
    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a damaged file
        raise DataError(f"{path} is not a readable Parquet file ({type(exc).__name__}: {exc})") from None


def _responses(row: dict[str, Any], question: str) -> list[tuple[Any, str, str]]:
    """(value, user, status) of a row's responses to ``question``, flattened or nested."""
    nested = row.get("responses")
    if isinstance(nested, dict):
        return [
            (r.get("value"), str(r.get("user_id", "")), str(r.get("status") or "submitted"))
            for r in nested.get(question) or []
            if isinstance(r, dict)
        ]
    values = row.get(f"{question}.responses") or []
    users = row.get(f"{question}.responses.users") or [""] * len(values)
    status = row.get(f"{question}.responses.status") or ["submitted"] * len(values)
    if not isinstance(values, list):
        values, users, status = [values], [users], [status]
    return [(v, str(u), str(s or "submitted")) for v, u, s in zip(values, users, status, strict=False)]


def import_argilla(path: Path, cache: ReviewCache, ledger: LabelLedger, *, who: str = "import") -> ImportResult:
    """Append the submitted responses of an Argilla dataset file to the ledger."""
    out = ImportResult(str(path), "argilla")
    for n, row in enumerate(_rows(path), 1):
        out.rows += 1
        where = f"{path.name} record {n}"
        if not isinstance(row, dict):
            out.skips.skip("not_a_record", where)
            continue
        submitted = [(v, u) for v, u, s in _responses(row, QUESTION) if s == "submitted" and v not in (None, "")]
        if not submitted:
            out.skips.skip("no_submitted_response", where)
            continue
        values = {json.dumps(v, sort_keys=True) for v, _ in submitted}
        if len(values) > 1:
            out.skips.skip("responses_disagree", where)
            continue
        label = submitted[0][0]
        users = sorted({u for _, u in submitted})
        notes = [str(v) for v, _, s in _responses(row, NOTE) if s == "submitted" and v]
        note = " ".join(notes)
        if len(users) > 1:
            note = f"agreed by {len(users)} annotators. {note}".strip()
        record_id = row.get("id") or (row.get("fields") or {}).get("item_id")
        ext = f"argilla:{record_id}:{','.join(users)}:{label}"
        record_decision(
            out,
            cache,
            ledger,
            item_id=record_id,
            label=label,
            who=clean_who("argilla", users[0], who),
            note=note,
            ext=ext,
            at=None,
            source="argilla",
            where=where,
        )
    return out
