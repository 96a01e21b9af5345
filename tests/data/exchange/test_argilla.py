"""Argilla round trip: records with the teacher's suggestion out (Parquet / JSONL), responses back in."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from distilsec.data.exchange import export_queue, import_file
from distilsec.data.label_ledger import LabelLedger
from tests.data.exchange.cache import small_cache


def test_records_carry_the_teacher_suggestion_with_score_and_agent(tmp_path):
    cache = small_cache(tmp_path / "review")
    parquet, jsonl, settings = export_queue(cache, "argilla", tmp_path / "ag")
    rows = pq.read_table(parquet).to_pylist()
    assert [r["id"] for r in rows] == ["i1", "i2"]
    first = rows[0]
    assert first["label.suggestion"] == "malicious" and first["label.suggestion.score"] == 0.93
    assert first["label.suggestion.agent"] == "teacher:encoder.v1@abc"
    assert first["student_label"] == "benign" and first["label.responses"] == []
    assert [json.loads(line)["id"] for line in jsonl.read_text().splitlines()] == ["i1", "i2"]
    spec = json.loads(settings.read_text())
    assert spec["questions"][0]["labels"] == ["benign", "malicious"]
    assert {m["name"] for m in spec["metadata"]} >= {"split", "original_label", "teacher_score", "student_label"}


def test_submitted_responses_round_trip_and_disagreements_wait(tmp_path):
    cache = small_cache(tmp_path / "review")
    parquet, _, _ = export_queue(cache, "argilla", tmp_path / "ag", items="all")
    table = pq.read_table(parquet).to_pylist()
    by_id = {r["id"]: r for r in table}
    by_id["i1"].update(
        {
            "label.responses": ["malicious", "malicious"],
            "label.responses.users": ["u1", "u2"],
            "label.responses.status": ["submitted", "submitted"],
        }
    )
    by_id["i2"].update(
        {
            "label.responses": ["malicious", "benign"],
            "label.responses.users": ["u1", "u2"],
            "label.responses.status": ["submitted", "submitted"],
        }
    )
    by_id["i3"].update(
        {"label.responses": ["malicious"], "label.responses.users": ["u1"], "label.responses.status": ["draft"]}
    )
    labelled = tmp_path / "labelled.parquet"
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(list(by_id.values()), schema=pq.read_schema(parquet)), labelled)
    ledger = LabelLedger(cache.ledger_path, original=cache.original_labels())
    result = import_file(labelled, cache, ledger)
    assert result.format == "argilla" and result.rows == 3 and result.imported == 1
    assert result.skips.as_dict() == {"responses_disagree": 1, "no_submitted_response": 1}
    (entry,) = ledger.entries()
    assert (entry.item, entry.new, entry.who) == ("i1", "malicious", "argilla:u1")
    assert entry.note.startswith("agreed by 2 annotators") and entry.source == "argilla"
    assert import_file(labelled, cache, ledger).imported == 0


def test_nested_records_are_read_too(tmp_path):
    cache = small_cache(tmp_path / "review")
    record = {
        "id": "i3",
        "fields": {"text": "ls -la"},
        "responses": {"label": [{"value": "malicious", "user_id": "u9"}]},
    }
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(record) + "\n")
    ledger = LabelLedger(cache.ledger_path, original=cache.original_labels())
    assert import_file(path, cache, ledger).imported == 1
    assert ledger.state().labels() == {"i3": "malicious"}
