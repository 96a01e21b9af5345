"""The analyst label ledger: replay, undo, no lost updates across processes, tampering found, torn writes."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest

from distilsec.data.label_ledger import LabelLedger, LedgerConflict
from distilsec.errors import DataError


def _ledger(tmp_path: Path) -> LabelLedger:
    return LabelLedger(tmp_path / "ledger.jsonl", original={"a": "benign", "b": "malicious", "c": "benign"})


def test_decisions_replay_with_old_label_who_and_note(tmp_path):
    led = _ledger(tmp_path)
    e1 = led.append("label", "a", who="alice", new="malicious", note="beacons to a C2", split="train")
    led.append("label", "a", who="bob", new="benign")
    state = LabelLedger(tmp_path / "ledger.jsonl").state()  # a fresh reader replays the file
    assert state.labels() == {"a": "benign"}
    assert [e.old for e in state.history("a")] == ["benign", "malicious"]
    assert e1.who == "alice" and e1.note == "beacons to a C2" and e1.split == "train" and e1.at.endswith("Z")


def test_undo_restores_the_previous_decision_and_is_itself_recorded(tmp_path):
    led = _ledger(tmp_path)
    first = led.append("label", "a", who="alice", new="malicious")
    second = led.append("label", "a", who="alice", new="benign")
    led.undo(second.id, who="alice")
    assert led.state().labels() == {"a": "malicious"}
    led.undo(first.id, who="alice")
    assert led.state().labels() == {}
    assert [e.action for e in led.entries()] == ["label", "label", "undo", "undo"]
    with pytest.raises(LedgerConflict, match="undone already"):
        led.undo(first.id, who="alice")


def test_a_skip_is_per_analyst_and_a_later_label_clears_it(tmp_path):
    led = _ledger(tmp_path)
    led.append("skip", "b", who="alice")
    assert led.state().skipped == {"b": {"alice"}}
    led.append("label", "b", who="bob", new="benign")
    assert led.state().skipped == {}


def test_a_stale_view_gets_a_conflict_not_a_silent_overwrite(tmp_path):
    tab1, tab2 = _ledger(tmp_path), _ledger(tmp_path)  # two tabs, two readers of one file
    assert tab1.state().decisions == {} and tab2.state().decisions == {}
    tab1.append("label", "a", who="alice", new="malicious", expect="")
    with pytest.raises(LedgerConflict, match="alice labelled it 'malicious'") as info:
        tab2.append("label", "a", who="bob", new="benign", expect="")
    assert info.value.current.label == "malicious"
    assert len(LabelLedger(tmp_path / "ledger.jsonl").entries()) == 1


def _hammer(path: str, worker: int, n: int) -> None:
    led = LabelLedger(path)
    for i in range(n):
        led.append("label", f"item-{worker}-{i}", who=f"w{worker}", new="malicious")


def test_concurrent_writers_in_four_processes_lose_no_update(tmp_path):
    path = str(tmp_path / "ledger.jsonl")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(path, w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    state = LabelLedger(path).state()  # the hash chain verifies every line
    assert len(state.entries) == 100 and len(state.decisions) == 100
    assert [e.seq for e in state.entries] == list(range(1, 101))


def _rewrite_line(path: Path, index: int, **changes: object) -> None:
    lines = path.read_text().splitlines()
    obj = json.loads(lines[index])
    obj.update(changes)
    lines[index] = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")


def test_an_edited_line_is_found_and_named(tmp_path):
    led = _ledger(tmp_path)
    led.append("label", "a", who="alice", new="malicious")
    led.append("label", "b", who="alice", new="benign")
    _rewrite_line(led.path, 0, new="benign")
    with pytest.raises(DataError, match=r"ledger.jsonl line 1: the line was changed after it was written"):
        LabelLedger(led.path).state()


def test_a_deleted_line_breaks_the_chain(tmp_path):
    led = _ledger(tmp_path)
    for item in ("a", "b", "c"):
        led.append("label", item, who="alice", new="malicious")
    lines = led.path.read_text().splitlines()
    led.path.write_text(lines[0] + "\n" + lines[2] + "\n")
    with pytest.raises(DataError, match=r"line 2: a line before it was removed, added or reordered"):
        LabelLedger(led.path).state()


def test_a_torn_last_line_is_ignored_then_cut_by_the_next_append(tmp_path):
    led = _ledger(tmp_path)
    led.append("label", "a", who="alice", new="malicious")
    with open(led.path, "ab") as f:
        f.write(b'{"action":"label","at":"2026-')  # a crash mid-write: never acknowledged
    fresh = LabelLedger(led.path)
    assert fresh.state().labels() == {"a": "malicious"}
    fresh.append("label", "b", who="alice", new="benign")
    assert LabelLedger(led.path).state().labels() == {"a": "malicious", "b": "benign"}
    assert led.path.read_bytes().endswith(b"}\n") and led.path.read_bytes().count(b"\n") == 2


def test_a_second_import_of_the_same_annotation_is_refused(tmp_path):
    led = _ledger(tmp_path)
    led.append("label", "a", who="ls:bob", new="malicious", ext="labelstudio:1/7")
    with pytest.raises(LedgerConflict, match="imported before"):
        led.append("label", "a", who="ls:bob", new="malicious", ext="labelstudio:1/7")


@pytest.mark.parametrize("who", ["", "x" * 65, "eve\u202e", "bo\nb"])
def test_analyst_names_must_be_short_and_printable(tmp_path, who):
    with pytest.raises(DataError, match="analyst name"):
        _ledger(tmp_path).append("label", "a", who=who, new="malicious")


def test_a_label_decision_needs_a_label_and_notes_are_bounded(tmp_path):
    led = _ledger(tmp_path)
    with pytest.raises(DataError, match="needs the new label"):
        led.append("label", "a", who="alice")
    with pytest.raises(DataError, match="at most 2000"):
        led.append("note", "a", who="alice", note="x" * 2001)
    assert not led.path.exists() or led.path.read_bytes() == b""
