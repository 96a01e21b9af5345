"""Label Studio round trip: tasks with predictions out, an annotated export back into the ledger."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from distilsec.data.exchange import export_queue, import_file
from distilsec.data.label_ledger import LabelLedger
from tests.data.exchange.cache import small_cache


def _annotate(
    task: dict, task_id: int, choice: str, *, who: object = 3, cancelled: bool = False, note: str = ""
) -> dict:
    result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [choice]}}]
    if note:
        result.append({"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [note]}})
    annotation = {
        "id": 100 + task_id,
        "completed_by": who,
        "was_cancelled": cancelled,
        "result": result,
        "created_at": "2026-11-30T10:00:00.000000Z",
        "updated_at": "2026-11-30T10:05:00.000000Z",
    }
    return {**task, "id": task_id, "annotations": [annotation], "predictions": task["predictions"]}


def test_export_carries_the_models_as_predictions_with_version_and_score(tmp_path):
    cache = small_cache(tmp_path / "review")
    tasks_file, config_file = export_queue(cache, "label-studio", tmp_path / "ls")
    tasks = json.loads(tasks_file.read_text())
    assert [t["data"]["item_id"] for t in tasks] == ["i1", "i2"]  # the queue, ranked
    preds = {p["model_version"]: p for p in tasks[0]["predictions"]}
    assert preds["teacher:encoder.v1@abc"]["score"] == 0.93
    assert preds["student:char_cnn.v1@def"]["result"][0]["value"] == {"choices": ["benign"]}
    assert preds["student:char_cnn.v1@def"]["score"] == 0.59
    view = ET.fromstring(config_file.read_text())
    assert [c.get("value") for c in view.iter("Choice")] == ["benign", "malicious"]


def test_an_annotated_export_round_trips_into_the_ledger_once(tmp_path):
    cache = small_cache(tmp_path / "review")
    (tasks_file, _) = export_queue(cache, "label-studio", tmp_path / "ls")
    tasks = json.loads(tasks_file.read_text())
    exported = [
        _annotate(tasks[0], 1, "malicious", who={"id": 3, "email": "ana@soc.example"}, note="downloads a payload"),
        _annotate(tasks[1], 2, "malicious", cancelled=True),
        {**tasks[1], "id": 3, "annotations": []},
        _annotate({**tasks[1], "data": {**tasks[1]["data"], "item_id": "nope"}}, 4, "malicious"),
        _annotate(tasks[1], 5, "phishing"),
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported))
    ledger = LabelLedger(cache.ledger_path, original=cache.original_labels())
    result = import_file(path, cache, ledger)
    assert result.format == "label-studio" and result.rows == 5 and result.imported == 1
    assert result.skips.as_dict() == {"cancelled": 1, "no_annotation": 1, "unknown_item": 1, "unknown_label": 1}
    (entry,) = ledger.entries()
    assert (entry.item, entry.old, entry.new, entry.who) == ("i1", "benign", "malicious", "labelstudio:ana@soc.example")
    assert (
        entry.note == "downloads a payload"
        and entry.at.startswith("2026-11-30T10:05")
        and entry.source == "labelstudio"
    )
    again = import_file(path, cache, ledger)
    assert again.imported == 0 and again.skips.as_dict()["already_imported"] == 1


def test_json_min_exports_are_read_too(tmp_path):
    cache = small_cache(tmp_path / "review")
    rows = [{"id": 7, "item_id": "i2", "text": "x", "label": "malicious", "annotator": 4, "annotation_id": 9}]
    path = tmp_path / "min.json"
    path.write_text(json.dumps(rows))
    ledger = LabelLedger(cache.ledger_path, original=cache.original_labels())
    result = import_file(path, cache, ledger, fmt="label-studio")
    assert result.imported == 1 and ledger.state().labels() == {"i2": "malicious"}
    assert ledger.entries()[0].who == "labelstudio:4"
