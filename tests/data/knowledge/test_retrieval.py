"""Open-book retrieval: IDs kept whole, exact IDs routed first, the index cached on disk without pickle."""

from __future__ import annotations

import json

import pytest

from distilsec.data.knowledge.passage import Passage
from distilsec.data.knowledge.retrieval import BM25Index, find_ids, fingerprint, load_or_build, tokenize
from distilsec.errors import DataError
from tests.teachers.llm.assistant.fakes import PASSAGES


def test_tokenizer_keeps_entity_ids_whole_and_adds_the_parent_technique():
    toks = tokenize("Which mitigations apply to T1548.002, CWE-79 and CVE-2021-44228 (see M1026)?")
    assert {"t1548.002", "t1548", "cwe-79", "cve-2021-44228", "m1026", "mitigations"} <= set(toks)
    assert "the" not in toks and "002" not in toks and "79" not in toks


def test_find_ids_in_order_of_mention():
    assert find_ids("about cwe-79, then T1548.002 and CWE-79 again") == ["CWE-79", "T1548.002"]
    assert find_ids("no ids here, T15 is too short") == []


def test_an_exact_id_retrieves_its_passage_first_even_against_better_word_matches():
    index = BM25Index.build(PASSAGES)
    hits = index.search("privileges privileges elevate T1003", k=3)
    assert hits[0][0].id == "T1003"
    assert [p.id for p, _ in index.search("what is CWE-89?", k=1)] == ["CWE-89"]
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)


def test_words_alone_rank_by_bm25():
    index = BM25Index.build(PASSAGES)
    assert index.search("bypass user account control UAC", k=2)[0][0].id == "T1548.002"
    assert index.search("dump password hashes from LSASS", k=1)[0][0].id == "T1003"
    assert index.search("zzz qqq", k=3) == []  # nothing matches: nothing returned, no error
    assert index.search("", k=3) == []


def test_cache_is_reused_and_rebuilt_when_the_data_changes(tmp_path):
    a = load_or_build(PASSAGES, tmp_path)
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1
    b = load_or_build(PASSAGES, tmp_path)
    assert b.fingerprint == a.fingerprint and list(tmp_path.iterdir()) == folders
    assert [p.id for p, _ in b.search("SQL injection", 1)] == ["CWE-89"]
    changed = [*PASSAGES[:-1], Passage("T1003", "T1003", "technique", "OS Credential Dumping", "new text", "x")]
    assert fingerprint(changed) != fingerprint(PASSAGES)
    load_or_build(changed, tmp_path)
    assert len(list(tmp_path.iterdir())) == 2


def test_saved_index_holds_no_pickle_and_loads_with_pickle_refused(tmp_path):
    BM25Index.build(PASSAGES).save(tmp_path / "ix")
    names = sorted(p.name for p in (tmp_path / "ix").iterdir())
    assert all(n.endswith((".npy", ".json", ".jsonl", ".txt")) for n in names), names
    first = json.loads((tmp_path / "ix" / "passages.jsonl").read_text().splitlines()[0])
    assert first["id"] == "T1548"
    loaded = BM25Index.load(tmp_path / "ix")  # bm25s loads arrays with allow_pickle=False
    assert loaded.search("T1548.002", 1)[0][0].title == "Bypass User Account Control"


def test_no_passages_and_a_broken_cache_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no passages"):
        BM25Index.build([])
    a = load_or_build(PASSAGES, tmp_path)
    folder = next(tmp_path.iterdir())
    (folder / "passages.jsonl").write_text("{not json\n")
    b = load_or_build(PASSAGES, tmp_path)  # rebuilt, not a crash
    assert b.fingerprint == a.fingerprint and b.search("CWE-79", 1)[0][0].id == "CWE-79"


def test_index_for_unchanged_data_files_skips_reading_the_passages(tmp_path):
    import os

    from distilsec.data.knowledge.retrieval import index_for_data

    data = tmp_path / "data"
    (data / "cwe").mkdir(parents=True)
    f = data / "cwe" / "catalog.xml"
    f.write_text("v1")
    calls = []

    def loader(root):
        calls.append(root)
        return PASSAGES

    a = index_for_data(data, loader, tmp_path / "cache")
    b = index_for_data(data, loader, tmp_path / "cache")
    assert len(calls) == 1 and b.fingerprint == a.fingerprint
    assert [p.id for p, _ in b.search("CWE-79", 1)] == ["CWE-79"]
    f.write_text("v2 changed")
    os.utime(f, ns=(1, 1))
    index_for_data(data, loader, tmp_path / "cache")
    assert len(calls) == 2


def test_a_part_named_in_the_question_comes_first_among_the_entity_passages():
    parts = [
        Passage("T1548", "T1548", "technique", "Abuse Elevation Control Mechanism", "privileges text", "a"),
        Passage("T1548#detection", "T1548", "technique", "Detection of T1548", "detect privileges", "a"),
        Passage("T1548#mitigations", "T1548", "technique", "Mitigations of T1548", "limit accounts", "a"),
    ]
    index = BM25Index.build(parts)
    assert index.search("Which mitigations apply to T1548?", 1)[0][0].id == "T1548#mitigations"
    assert index.search("What detects T1548 privileges?", 1)[0][0].id == "T1548#detection"
