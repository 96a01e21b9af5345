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


LONG = (
    "Adversaries may abuse scheduled jobs to run code at boot. This text is a long preamble about things. "
    "It goes on about unrelated matters for a while. Attackers dump LSASS memory to steal password hashes. "
    "A closing sentence about nothing at all."
)


def test_excerpt_quotes_the_window_that_matches_the_query_not_the_head():
    from distilsec.data.knowledge.retrieval import excerpt

    out = excerpt(LONG, "Which technique dumps LSASS password hashes?", 80)
    assert out.startswith("... Attackers dump LSASS memory") and out.endswith(" ...")
    assert "scheduled" not in out  # the head would have been quoted
    assert len(out) <= 80 + len("... ") + len(" ...")


def test_excerpt_falls_back_to_the_head_on_ties_and_short_texts():
    from distilsec.data.knowledge.retrieval import excerpt

    assert excerpt(LONG, "zzz qqq", 80).startswith("Adversaries may abuse")  # no hit: the head
    assert excerpt(LONG, "", 80).startswith("Adversaries may abuse")
    assert excerpt("Short text.", "lsass", 80) == "Short text."
    # "boot" only in the first sentence, "sentence" only in the last: a tie goes to the earliest window
    assert excerpt(LONG, "boot sentence", 60).startswith("Adversaries")


def test_excerpt_weights_rare_terms_and_ignores_known_title_terms():
    from distilsec.data.knowledge.retrieval import excerpt

    # unweighted, "adversaries abuse" (2 hits) beats "lsass" (1); weighted by rarity, lsass wins
    q = "adversaries abuse lsass"
    assert excerpt(LONG, q, 80).startswith("Adversaries")
    assert "LSASS" in excerpt(LONG, q, 80, {"adversaries": 0.1, "abuse": 0.1, "lsass": 5.0})
    # the title's words are shown anyway: they do not pull the window towards them
    assert "LSASS" in excerpt(LONG, q, 80, known="Adversaries abuse")
    # an inflected form matches ("hash" ~ "hashes", "tactic" ~ "Tactics")
    assert "LSASS" in excerpt(LONG, "password hash", 80)


def test_excerpt_splits_a_sentence_longer_than_the_window():
    from distilsec.data.knowledge.retrieval import excerpt

    text = "word " * 60 + "needle here " + "word " * 10
    out = excerpt(text, "needle", 100)
    assert "needle" in out and out.startswith("... ") and len(out) <= 108


def test_term_weights_are_the_index_idf():
    index = BM25Index.build(PASSAGES)
    w = index.term_weights("adversaries lsass unseenword")
    assert w["lsass"] > w["adversaries"] > 0  # lsass is in 1 passage, adversaries in 3
    assert w["unseenword"] >= w["lsass"]


def test_main_first_puts_a_named_entity_s_own_passage_before_its_parts():
    parts = [
        Passage("T1234#detection", "T1234", "technique", "Detection of Thing", "detect thing thing thing", "x"),
        Passage("T1234#mitigations", "T1234", "technique", "Mitigations of Thing", "mitigate thing", "x"),
        Passage("T1234", "T1234", "technique", "Thing", "Tactics: Execution. The thing.", "x"),
    ]
    index = BM25Index.build(parts)
    q = "Which tactic does T1234 (thing) serve?"
    assert index.search(q, 1)[0][0].id == "T1234#detection"  # the default order: BM25 among the entity's
    assert [p.id for p, _ in index.search(q, 2, main_first=True)] == ["T1234", "T1234#detection"]
    # a part the question names still comes first
    q = "Which mitigations apply to T1234?"
    assert [p.id for p, _ in index.search(q, 2, main_first=True)] == ["T1234#mitigations", "T1234"]
