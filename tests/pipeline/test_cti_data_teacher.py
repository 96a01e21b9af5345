"""Teacher-written records in the CTI data build: held-out routing, dedup against templates, decontamination,
the data card's per-generator counts, and a killed build resumed from the ledger."""

from __future__ import annotations

import json

import pytest

from distilsec.data.instruct.split import mentioned_ids
from distilsec.data.instruct.teacher_written import TEMPLATE, TeacherWriting, select_passages
from distilsec.data.instruct.templates import family
from distilsec.data.knowledge.load import load_knowledge
from distilsec.data.readers.cti_bench import write_bench_tsv
from distilsec.pipeline.cti_data import OUTPUT_FILES, TEACHER_FILES, build_cti_data
from tests.data.instruct.fake_writer import FakeWriter
from tests.data.knowledge.cti_fixtures import make_knowledge_dir

N = 40


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_knowledge_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def order(data_dir):
    """The passage IDs the build asks about, in order (seed 2)."""
    know = load_knowledge(data_dir)
    return [p.id for p, _ in select_passages(know.passages, N, 2, min_chars=20)]


def _cfg(n=N, ledger=None, **kw):
    return TeacherWriting(n, generator="fake", ledger=ledger, min_passage_chars=20, **kw)


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def built(data_dir, order, tmp_path_factory):
    modes = {order[0]: "malformed", order[1]: "evidence", order[2]: "foreign"}
    out = tmp_path_factory.mktemp("out") / "cti"
    fake = FakeWriter(modes)
    rep = build_cti_data(data_dir, out, seed=2, heldout_share=0.25, teacher=_cfg(), teacher_backend=fake)
    return out, rep, fake


def test_writes_teacher_records_with_provenance(built, data_dir):
    out, rep, fake = built
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES + TEACHER_FILES)
    t = rep["teacher"]
    assert t["asked"] == N == len(fake.calls) and t["calls"] == N and t["cached"] == 0
    know = load_knowledge(data_dir).by_id()
    docs = [d for f in ("train.jsonl", "val.jsonl") for d in _lines(out / f) if d["meta"]["template"] == TEMPLATE]
    assert len(docs) == t["written"]["train"] + t["written"]["val"] > 0
    for d in docs:
        (pid,) = d["meta"]["provenance"]
        assert d["meta"]["source"] == know[pid].source and d["meta"]["generator"] == "fake:writer"
        assert d["meta"]["evidence"].lower() in know[pid].text.lower()
        assert d["meta"]["form"] == "free" and d["messages"][2]["content"]
    assert rep["counts"]["train"].get(TEMPLATE, 0) == t["written"]["train"]


def test_held_out_teacher_records_never_reach_training(built):
    out, rep, _ = built
    held = {e for ids in rep["heldout"]["entities"].values() for e in ids}
    t = rep["teacher"]
    assert t["routed_heldout"] > 0 and t["written"]["heldout"] > 0
    for d in _lines(out / "train.jsonl") + _lines(out / "val.jsonl"):
        ents = {family(e) for e in d["meta"]["entities"]} | set(d["meta"]["entities"])
        text = " ".join(m["content"] for m in d["messages"])
        assert not ents & held and not mentioned_ids(text) & held
    heldout = _lines(out / "heldout-teacher.jsonl")
    assert len(heldout) == t["written"]["heldout"]
    for d in heldout:
        ents = {family(e) for e in d["meta"]["entities"]} | set(d["meta"]["entities"])
        assert ents & held and d["meta"]["split"] == "heldout"
    assert rep["audit"]["heldout_mentions"] == 0


def test_rejections_by_reason_and_flow(built, order):
    _, rep, _ = built
    t = rep["teacher"]
    rej = t["rejected"]
    assert rej == {"malformed_json": 1, "evidence_not_in_passage": 1, "foreign_id": 1}
    assert t["grounded"] == N - 3 == t["routed_train"] + t["routed_heldout"]
    kept = t["written"]["train"] + t["written"]["val"] + t["written"]["heldout"]
    assert t["kept"] == kept and t["yield_share"] == pytest.approx(kept / N, abs=1e-4)
    assert t["asked"] == kept + sum(rej.values())
    assert t["seconds_per_kept"] == pytest.approx(N * 0.5 / kept, abs=0.01)
    f = rep["flow"]
    assert f["generated"] == f["routed_heldout"] + f["capped"] + f["duplicates"] + f["contaminated"] + f["written"]
    assert f["written"] == sum(rep["counts"]["train"].values()) + sum(rep["counts"]["val"].values())


def test_duplicates_against_each_other_and_templates(data_dir, order, tmp_path):
    """Nothing held out (share 0.01 of a tiny knowledge): a question repeated with another passage, and one
    that copies a template record's question, are both dropped; the first of the pair is kept."""
    techs = [p for p in order if p.startswith("T")]
    modes = {order[1]: f"dup:{order[0]}", techs[0]: "template"}
    fake = FakeWriter(modes, template_question=f"What is the name of the ATT&CK technique {techs[0]}?")
    rep = build_cti_data(data_dir, tmp_path / "o", seed=2, heldout_share=0.01, teacher=_cfg(20), teacher_backend=fake)
    t = rep["teacher"]
    assert not any(rep["heldout"]["entities"].values()) and t["routed_heldout"] == 0
    assert t["dedup"]["exact"] + t["dedup"]["near"] == 1 and t["dedup"]["template_copies"] == 1
    assert t["rejected"]["duplicate"] == 1 and t["rejected"]["template_copy"] == 1
    docs = [d for f in ("train.jsonl", "val.jsonl") for d in _lines(tmp_path / "o" / f)]
    ids = {d["meta"]["provenance"][0] for d in docs if d["meta"]["template"] == TEMPLATE}
    assert len(ids) == t["kept"] == 18
    assert order[0] in ids and order[1] not in ids and techs[0] not in ids


def test_teacher_records_are_decontaminated(data_dir, order, tmp_path):
    cves = [p for p in order if p.startswith("CVE")]
    bench = write_bench_tsv(tmp_path / "b.tsv", "rcm", [(cves[0], "some other description entirely", "CWE-89")])
    rep = build_cti_data(
        data_dir,
        tmp_path / "o",
        seed=2,
        heldout_share=0.25,
        decontaminate=[bench],
        teacher=_cfg(),
        teacher_backend=FakeWriter(),
    )
    text = (tmp_path / "o" / "train.jsonl").read_text() + (tmp_path / "o" / "val.jsonl").read_text()
    assert cves[0] not in text
    assert rep["decontamination"]["removed_by_template"].get(TEMPLATE, 0) == rep["teacher"]["rejected"].get(
        "contaminated", 0
    )
    assert rep["audit"]["shared_cve_ids"] == 0


def test_card_reports_generators_rejections_and_cost(built):
    out, rep, _ = built
    card = (out / "DATA_CARD.md").read_text()
    assert "## Generators" in card and "teacher-written (`fake`)" in card
    assert "| malformed_json | 1 |" in card and "s per kept record" in card
    assert "heldout-teacher.jsonl" in card


def test_killed_build_resumes_from_the_ledger(data_dir, tmp_path):
    led = str(tmp_path / "ledger.sqlite")
    with pytest.raises(KeyboardInterrupt):
        build_cti_data(
            data_dir, tmp_path / "a", seed=2, teacher=_cfg(ledger=led), teacher_backend=FakeWriter(kill_after=15)
        )
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())
    fake = FakeWriter()
    rep = build_cti_data(data_dir, tmp_path / "a", seed=2, teacher=_cfg(ledger=led), teacher_backend=fake)
    assert len(fake.calls) == N - 15 and rep["teacher"]["cached"] == 15
    build_cti_data(data_dir, tmp_path / "b", seed=2, teacher=_cfg(), teacher_backend=FakeWriter())
    for name in ("train.jsonl", "val.jsonl", "heldout-teacher.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_without_teacher_nothing_changes(data_dir, tmp_path):
    rep = build_cti_data(data_dir, tmp_path / "o", seed=2, teacher=_cfg(0), teacher_backend=FakeWriter())
    assert "teacher" not in rep and not (tmp_path / "o" / "heldout-teacher.jsonl").exists()
    assert "## Generators" not in (tmp_path / "o" / "DATA_CARD.md").read_text()
