"""Teacher-written records: strict parsing, grounding in the quoted passage, passage picks, ledger resume."""

from __future__ import annotations

import json

import pytest

from distilsec.data.instruct.teacher_written import (
    TEMPLATE,
    TeacherWriter,
    TeacherWriting,
    build_record,
    grounding_problem,
    parse_answer,
    select_passages,
)
from distilsec.data.knowledge.passage import Passage
from distilsec.errors import ConfigError, DataError, DistilsecError
from distilsec.pipeline.cti_data import open_generator, open_writer
from distilsec.teachers.ledger import TeacherLedger
from tests.data.instruct.fake_writer import FakeWriter

TEXT = (
    "Abstraction: Standard. Related weaknesses: CWE-22, CWE-78. Related ATT&CK techniques: T1003.\n"
    "An adversary manipulates file paths to reach files outside the web root and reads configuration secrets."
)
P = Passage("CAPEC-4", "CAPEC-4", "capec", "Path Manipulation", TEXT, "capec", "https://capec/4")


def _passages(n: int = 6) -> list[Passage]:
    kinds = ["technique", "cwe", "capec", "cve", "detection-strategy"]
    out = []
    for i in range(n * len(kinds)):
        kind = kinds[i % len(kinds)]
        pid = f"{kind[:3].upper()}-{i}"
        text = f"The {kind} number {i} lets an adversary escalate privileges on the host. It has id {i}. " * 3
        out.append(Passage(pid, pid, kind, f"Title {i}", text, "test", ""))
    return out


def _qa(question="Which files can Path Manipulation reach?", answer=None, evidence=None):
    return {
        "question": question,
        "answer": answer or "Files outside the web root, such as configuration secrets.",
        "evidence": evidence or "reach files outside the web root",
    }


# ---- parsing ----
def test_parse_accepts_one_object_or_one_fenced_object():
    doc = _qa()
    assert parse_answer(json.dumps(doc)) == (doc, "")
    assert parse_answer(f"```json\n{json.dumps(doc)}\n```")[0] == doc
    spaced = {**doc, "answer": "  Files outside\n the web root. "}
    assert parse_answer(json.dumps(spaced))[0]["answer"] == "Files outside the web root."


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("Sure! " + json.dumps(_qa()), "malformed_json"),
        (json.dumps(_qa()) + "\nHope this helps", "malformed_json"),
        ('{"question": "Which files?", "answer": ', "malformed_json"),
        (json.dumps([_qa()]), "malformed_json"),
        ("", "malformed_json"),
        (json.dumps({"question": "Which files can it reach?", "answer": "x"}), "missing_field"),
        (json.dumps({**_qa(), "answer": 3}), "missing_field"),
        (json.dumps({**_qa(), "evidence": "  "}), "missing_field"),
        (json.dumps({**_qa(), "question": "Why?"}), "bad_length"),
    ],
)
def test_parse_rejects_with_a_reason(raw, reason):
    assert parse_answer(raw) == (None, reason)


# ---- grounding ----
def test_grounded_answer_passes():
    assert grounding_problem(_qa(), P, TEXT) == ("", "")
    # quotes, case, spacing and an elided middle ("...") do not matter; each part must be in the passage
    ev = '"An adversary MANIPULATES file  paths ... reads configuration secrets."'
    assert grounding_problem(_qa(evidence=ev), P, TEXT) == ("", "")
    # IDs the passage names are fine
    assert grounding_problem(_qa(answer="It relates to CWE-22 and T1003 via file paths."), P, TEXT)[0] == ""


@pytest.mark.parametrize(
    ("qa", "reason"),
    [
        (_qa(evidence="An adversary deletes the whole database."), "evidence_not_in_passage"),
        (_qa(evidence="web root"), "evidence_not_in_passage"),  # too short to ground anything
        (_qa(answer="It is CWE-79 cross-site scripting."), "foreign_id"),
        (_qa(question="How does CAPEC-66 reach files outside the web root?"), "foreign_id"),
        (_qa(answer="Quantum blockchain synergy leverages holistic paradigms."), "answer_not_in_passage"),
        (_qa(answer="Yes, it is."), "answer_not_in_passage"),
        (
            _qa(
                question="Does Path Manipulation reach files outside the web root?", answer="Files outside the web root"
            ),
            "answer_in_question",
        ),
    ],
)
def test_ungrounded_answers_are_rejected(qa, reason):
    assert grounding_problem(qa, P, TEXT)[0] == reason


def test_record_keeps_provenance_and_every_passage_id():
    r = build_record(_qa(), P, 0, TEXT, "gguf:abc")
    assert r.template == TEMPLATE and r.form == "free" and r.subject == "CAPEC-4"
    assert r.provenance == ("CAPEC-4",) and r.id == "teacher_written:CAPEC-4:0"
    assert set(r.entities) >= {"CAPEC-4", "CWE-22", "CWE-78", "T1003"}  # a held-out one routes the record out
    meta = r.to_json()["meta"]
    assert meta["source"] == "capec" and meta["evidence"] == _qa()["evidence"] and meta["generator"] == "gguf:abc"
    assert meta["provenance"] == ["CAPEC-4"]


# ---- picks ----
def test_picks_rotate_kinds_skip_ineligible_and_repeat_with_variants():
    ps = _passages(4)
    ps.append(Passage("T1-x#detection", "T1-x", "technique", "t", "- a list " * 30, "s", ""))
    ps.append(Passage("CWE-short", "CWE-short", "cwe", "t", "Too short.", "s", ""))
    picks = select_passages(ps, 8, seed=1)
    kinds = [p.kind for p, _ in picks]
    assert kinds[:4] == sorted(set(kinds))  # round-robin over kinds: capec, cve, cwe, technique
    assert "detection-strategy" not in kinds
    assert not {p.id for p, _ in picks} & {"T1-x#detection", "CWE-short"}
    assert picks == select_passages(ps, 8, seed=1) and picks != select_passages(ps, 8, seed=2)
    many = select_passages(ps, 20, seed=1)
    assert len({p.id for p, _ in many[:16]}) == 16 and [v for _, v in many[16:]] == [1, 1, 1, 1]
    assert select_passages(ps, 0, seed=1) == []


# ---- the writer ----
def _writer(fake, ledger=None, n=12, **kw):
    cfg = TeacherWriting(n, generator="fake", ledger=None, min_passage_chars=20, **kw)
    return TeacherWriter(cfg, fake, ledger, seed=0)


def test_rejections_are_counted_by_reason():
    ps = _passages(3)
    order = [p.id for p, _ in select_passages(ps, 12, 0, min_chars=20)]
    kinds = ["malformed", "fields", "evidence", "foreign", "offtopic", "error", "truncated"]
    modes = dict(zip(order[:7], kinds, strict=True))
    w = _writer(FakeWriter(modes))
    recs = w.write(ps)
    rep = w.report()
    assert rep["rejected"] == {
        "malformed_json": 1,
        "missing_field": 1,
        "evidence_not_in_passage": 1,
        "foreign_id": 1,
        "answer_not_in_passage": 1,
        "llm_error": 1,
        "truncated": 1,
    }
    assert len(recs) == rep["grounded"] == 5 and rep["asked"] == 12 and rep["errors"] == 1 and rep["calls"] == 11
    assert {r.provenance[0] for r in recs} == set(order[7:])
    assert {e["reason"] for e in rep["rejected_examples"]} == set(rep["rejected"])


def test_judge_rejects_what_it_does_not_support():
    ps = _passages(2)
    order = [p.id for p, _ in select_passages(ps, 8, 0, min_chars=20)]
    fake = FakeWriter(judge_no=order[:3])
    w = _writer(fake, n=8, judge=True)
    recs = w.write(ps)
    assert w.report()["rejected"] == {"judge_no": 3} and len(recs) == 5
    assert fake.calls.count("judge") == 8 and w.report()["judge_calls"] == 8


def test_killed_job_resumes_from_the_ledger(tmp_path):
    ps = _passages(3)
    led = TeacherLedger(tmp_path / "l.sqlite")
    with pytest.raises(KeyboardInterrupt):
        _writer(FakeWriter(kill_after=5), led).write(ps)
    assert led.count() == 5
    fake = FakeWriter()
    w = _writer(fake, led)
    resumed = w.write(ps)
    assert len(fake.calls) == 7 and w.report()["cached"] == 5 and w.report()["calls"] == 7
    assert w.report()["recorded_seconds"] == pytest.approx(12 * 0.5)  # the cost of every answer used
    fresh = _writer(FakeWriter(), None).write(ps)
    assert [r.to_json() for r in resumed] == [r.to_json() for r in fresh]
    again = FakeWriter()
    _writer(again, led).write(ps)
    assert again.calls == []
    # another model or another prompt setting asks again
    other = FakeWriter(model_id="fake:other")
    _writer(other, led, n=3).write(ps)
    hotter = FakeWriter()
    _writer(hotter, led, n=3, temperature=0.1).write(ps)
    assert len(other.calls) == len(hotter.calls) == 3


def test_failing_generator_stops_the_job_clearly():
    ps = _passages(3)
    with pytest.raises(ConfigError, match="generator 'fake' failed: RuntimeError"):
        _writer(FakeWriter({p.id: "error" for p in ps})).write(ps)
    order = [p.id for p, _ in select_passages(ps, 12, 0, min_chars=20)]
    w = _writer(FakeWriter({pid: "error" for pid in order[1:]}), max_consecutive_errors=4)
    with pytest.raises(DataError, match="failed 4 calls in a row"):
        w.write(ps)


def test_generator_that_cannot_be_loaded_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        open_generator(TeacherWriting(1, generator=str(tmp_path / "missing.gguf")))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(DistilsecError, match="not a GGUF"):
        open_generator(TeacherWriting(1, generator=str(bad)))
    with pytest.raises(ConfigError, match="--teacher-written"):
        open_writer(TeacherWriting(-1), backend=FakeWriter())
    ep = open_generator(TeacherWriting(1, generator="http://127.0.0.1:9/v1", served_model="m"))
    assert ep.model_id == "endpoint:http://127.0.0.1:9/v1|m"
    ep.close()


def test_a_quote_framed_in_own_words_counts_only_when_mostly_quoted():
    framed = "The passage states that an adversary manipulates file paths to reach files outside the web root."
    assert grounding_problem(_qa(evidence=framed), P, TEXT)[0] == ""
    loose = "The passage explains in its own long words that an adversary manipulates file paths somewhere bad."
    assert grounding_problem(_qa(evidence=loose), P, TEXT)[0] == "evidence_not_in_passage"
