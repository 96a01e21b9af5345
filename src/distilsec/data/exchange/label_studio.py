"""Label Studio: tasks JSON out (with the models as ``predictions``), labelled exports back in.

Out: ``tasks.json`` — one task per item, ``data`` holding the text and what the reviewer needs beside it
(item id, split, original label, queue rank and reasons), ``predictions`` holding the teacher and the
student as Label Studio pre-annotations (``model_version``, ``score`` = the probability of the label it
predicts, ``result`` = a ``choices`` answer) — and ``label_config.xml``, the labelling interface to
paste into the project's settings (a ``Choices`` named ``label`` over the ``text``, a ``TextArea`` ``note``).

In: a project export in Label Studio's ``JSON`` format (tasks with ``annotations``; the latest annotation
that was not cancelled counts) or ``JSON_MIN`` (one flat row per annotation). The item is found by the
exported ``data.item_id``; the annotator (``completed_by``: its e-mail when the export holds it) becomes
``labelstudio:<who>`` in the ledger, the annotation's ``updated_at`` the decision's time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from distilsec.data.exchange.common import (
    ImportResult,
    clean_time,
    clean_who,
    export_items,
    model_views,
    read_json_rows,
    record_decision,
)
from distilsec.data.label_ledger import LabelLedger
from distilsec.data.review_items import ReviewCache, ReviewItem

__all__ = ["label_studio_tasks", "label_studio_config", "write_label_studio", "import_label_studio"]

FROM_NAME, TO_NAME, NOTE_NAME = "label", "text", "note"


def label_studio_config(classes: list[str]) -> str:
    """The labelling interface (XML) for the exported tasks."""
    choices = "\n".join(f"    <Choice value={quoteattr(c)}/>" for c in classes)
    return (
        "<View>\n"
        '  <Header value="$reasons"/>\n'
        f'  <Text name="{TO_NAME}" value="$text" granularity="symbol"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInLine="true" required="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        f'  <TextArea name="{NOTE_NAME}" toName="{TO_NAME}" placeholder="note (optional)" maxSubmissions="1"/>\n'
        "</View>\n"
    )


def _task(cache: ReviewCache, item: ReviewItem) -> dict[str, Any]:
    predictions = [
        {
            "model_version": view["version"],
            "score": view["score"],
            "result": [
                {
                    "id": f"{view['role']}-{item.id}",
                    "from_name": FROM_NAME,
                    "to_name": TO_NAME,
                    "type": "choices",
                    "value": {"choices": [view["label"]]},
                }
            ],
        }
        for view in model_views(cache, item)
    ]
    return {
        "data": {
            "text": item.text,
            "item_id": item.id,
            "split": item.split,
            "original_label": item.label or "",
            "group": item.group,
            "source": item.source,
            "queue_rank": item.rank,
            "reasons": "; ".join(item.reasons) or "no review signal",
        },
        "predictions": predictions,
    }


def label_studio_tasks(cache: ReviewCache, items: list[ReviewItem]) -> list[dict[str, Any]]:
    return [_task(cache, it) for it in items]


def write_label_studio(cache: ReviewCache, folder: Path, *, items: str = "queue") -> list[Path]:
    """``tasks.json`` and ``label_config.xml`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks = folder / "tasks.json"
    tasks.write_text(json.dumps(label_studio_tasks(cache, export_items(cache, items)), ensure_ascii=True, indent=1))
    config = folder / "label_config.xml"
    config.write_text(label_studio_config(cache.classes), encoding="utf-8")
    return [tasks, config]


def _who(annotation: dict[str, Any], default: str) -> str:
    by = annotation.get("completed_by")
    if isinstance(by, dict):
        by = by.get("email") or by.get("username") or by.get("id")
    elif isinstance(by, int):
        by = f"user-{by}"
    return clean_who("labelstudio", by or annotation.get("annotator"), default)


def _answers(result: list[Any]) -> tuple[Any, str]:
    """The ``label`` choice and the ``note`` text of one annotation's result list."""
    label, notes = None, []
    for r in result if isinstance(result, list) else []:
        if not isinstance(r, dict) or not isinstance(r.get("value"), dict):
            continue
        value = r["value"]
        if r.get("type") == "choices" and r.get("from_name", FROM_NAME) == FROM_NAME:
            choices = value.get("choices") or []
            label = choices[0] if isinstance(choices, list) and len(choices) == 1 else choices or None
        elif r.get("type") == "textarea":
            notes += [str(t) for t in value.get("text", []) if t]
    return label, " ".join(notes)


def import_label_studio(path: Path, cache: ReviewCache, ledger: LabelLedger, *, who: str = "import") -> ImportResult:
    """Append the decisions of a Label Studio ``JSON`` or ``JSON_MIN`` export to the ledger."""
    out = ImportResult(str(path), "label-studio")
    for n, task in enumerate(read_json_rows(path), 1):
        out.rows += 1
        where = f"{path.name} record {n}"
        if not isinstance(task, dict):
            out.skips.skip("not_a_task", where)
            continue
        if "annotations" not in task:  # JSON_MIN: one flat row per annotation
            label = task.get(FROM_NAME)
            ext = f"labelstudio:{task.get('id')}/{task.get('annotation_id')}"
            record_decision(
                out,
                cache,
                ledger,
                item_id=task.get("item_id"),
                label=label,
                who=clean_who("labelstudio", task.get("annotator"), who),
                note=str(task.get(NOTE_NAME) or ""),
                ext=ext,
                at=clean_time(task.get("updated_at") or task.get("created_at")),
                source="labelstudio",
                where=where,
            )
            continue
        done = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        if not done:
            out.skips.skip("cancelled" if task.get("annotations") else "no_annotation", where)
            continue
        ann = max(done, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), str(a.get("id"))))
        label, note = _answers(ann.get("result") or [])
        data = task.get("data") if isinstance(task.get("data"), dict) else {}
        record_decision(
            out,
            cache,
            ledger,
            item_id=data.get("item_id"),
            label=label,
            who=_who(ann, who),
            note=note,
            ext=f"labelstudio:{task.get('id')}/{ann.get('id')}",
            at=clean_time(ann.get("updated_at") or ann.get("created_at")),
            source="labelstudio",
            where=where,
        )
    return out
