"""The CTI instruction-data build on a tiny knowledge folder: files, the entity split, dedup, decontamination."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from distilsec.data.instruct.split import mentioned_ids
from distilsec.data.instruct.templates import family
from distilsec.data.readers.cti_bench import read_bench, write_bench_tsv
from distilsec.data.readers.cti_mcq import read_mcq
from distilsec.errors import ConfigError
from distilsec.pipeline.cti_data import OUTPUT_FILES, build_cti_data
from tests.data.knowledge.cti_fixtures import make_knowledge_dir, nvd_items


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_knowledge_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def built(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "cti"
    return out, build_cti_data(data_dir, out, seed=2, heldout_share=0.25)  # seed 2 holds out CWE-787 (a CVE label)


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_writes_every_output(built):
    out, rep = built
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    assert rep["audit"] == {
        "records": rep["flow"]["written"],
        "shared_cve_ids": 0,
        "near_copies": 0,
        "heldout_mentions": 0,
    }
    card = (out / "DATA_CARD.md").read_text()
    assert "ATT&CK Terms of Use" in card and "| mitigation |" in card


def test_no_held_out_entity_in_any_training_record(built):
    out, rep = built
    held = {e for ids in rep["heldout"]["entities"].values() for e in ids}
    assert held and rep["heldout"]["records_routed"] > 0
    records = _lines(out / "train.jsonl") + _lines(out / "val.jsonl")
    assert records
    for doc in records:
        ents = {family(e) for e in doc["meta"]["entities"]} | set(doc["meta"]["entities"])
        text = " ".join(m["content"] for m in doc["messages"]) + " " + doc["meta"]["question"]
        assert not ents & held and not mentioned_ids(text) & held, doc["meta"]["id"]
        assert doc["meta"]["split"] in ("train", "val") and doc["meta"]["provenance"]


def test_heldout_files_are_about_held_out_entities(built):
    out, rep = built
    held = {e for ids in rep["heldout"]["entities"].values() for e in ids}
    mcq = read_mcq(out / "heldout-mcq.tsv")
    assert len(mcq) == sum(rep["counts"]["heldout_mcq"].values()) > 0
    names = {f"Technique Name {int(t[3:])}" for t in held if t.startswith("T")} | {
        f"Capec Pattern {c.split('-')[1]}" for c in held if c.startswith("CAPEC")
    }
    for it in mcq:
        answer = it.options["ABCD".index(it.gt)]
        assert mentioned_ids(f"{it.question} {answer}") & held or answer in names, it.question
        assert it.url
    rcm = read_bench(out / "heldout-rcm.tsv", "rcm")
    assert len(rcm.items) == rep["heldout_rcm"]
    assert all(it.gt in held for it in rcm.items)


def test_flow_adds_up_and_letters_are_balanced(built):
    _, rep = built
    f = rep["flow"]
    assert f["generated"] == f["routed_heldout"] + f["capped"] + f["duplicates"] + f["contaminated"] + f["written"]
    assert f["written"] == sum(rep["counts"]["train"].values()) + sum(rep["counts"]["val"].values())
    letters = rep["answer_letters"]
    assert set(letters) == {"A", "B", "C", "D"}
    assert max(letters.values()) / min(letters.values()) < 1.5


def test_used_out_is_refused_without_overwrite(built, data_dir):
    out, _ = built
    with pytest.raises(ConfigError, match="--overwrite"):
        build_cti_data(data_dir, out)
    with pytest.raises(ConfigError, match="heldout-share"):
        build_cti_data(data_dir, out, heldout_share=1.5, overwrite=True)


def test_decontamination_removes_benchmark_cves_and_copies(data_dir, tmp_path):
    items = nvd_items()
    desc = {i["cve"]["CVE_data_meta"]["ID"]: i["cve"]["description"]["description_data"][0]["value"] for i in items}
    bench = write_bench_tsv(
        tmp_path / "bench.tsv",
        "rcm",
        [("CVE-2022-1000", desc["CVE-2022-1000"], "CWE-89"), ("CVE-2031-0001", desc["CVE-2022-1001"] + " ", "CWE-79")],
    )
    rep = build_cti_data(data_dir, tmp_path / "out", decontaminate=[bench], seed=1, heldout_share=0.25)
    dec = rep["decontamination"]
    assert dec["removed"] >= 1 and set(dec["removed_by_reason"]) <= {"shared_cve_id", "near_copy"}
    assert rep["audit"]["shared_cve_ids"] == 0 and rep["audit"]["near_copies"] == 0
    text = (tmp_path / "out" / "train.jsonl").read_text() + (tmp_path / "out" / "val.jsonl").read_text()
    assert "CVE-2022-1000" not in text and desc["CVE-2022-1001"] not in text


def test_max_per_template_caps_training_records(data_dir, tmp_path):
    rep = build_cti_data(data_dir, tmp_path / "o", max_per_template=5, seed=2)
    per = Counter()
    for split in ("train", "val"):
        per.update(rep["counts"][split])
    assert max(per.values()) <= 5


def test_same_seed_same_files_other_seed_other_split(data_dir, tmp_path):
    a = build_cti_data(data_dir, tmp_path / "a", seed=4, heldout_share=0.25)
    build_cti_data(data_dir, tmp_path / "b", seed=4, heldout_share=0.25)
    c = build_cti_data(data_dir, tmp_path / "c", seed=5, heldout_share=0.25)
    for name in ("train.jsonl", "val.jsonl", "heldout-mcq.tsv", "heldout-rcm.tsv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert a["heldout"]["entities"] != c["heldout"]["entities"]
