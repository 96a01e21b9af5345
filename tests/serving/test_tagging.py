"""Batch tagging and the streaming tally: the same aggregate as AttackModel.aggregate, in bounded memory."""

from __future__ import annotations

import pytest

from distilsec.bundle import load_model
from distilsec.serving.tagging import BLANK, TechniqueTally, sentence_record, tag_batches

SENTENCES = [
    "the actor used powershell to run encoded commands",
    "we thank our colleagues for their review",
    "the implant communicates with its c2 server over http",
    "powershell scripts were executed to download payloads",
    "victims received spearphishing emails with malicious attachments",
    "malware invokes powershell with a hidden window",
    "they ran a powershell one-liner to launch the implant",
    "contact us for more information about our services",
]


@pytest.fixture(scope="module")
def tagger(tiny_attack_bundle):
    return load_model(tiny_attack_bundle)


def test_tally_in_batches_equals_aggregate_of_the_whole_report(tagger):
    tags = tagger.tag(SENTENCES)
    expected = tagger.aggregate(SENTENCES, tags, max_evidence=3)
    tally = TechniqueTally(tagger.index.describe, max_evidence=3)
    start = 0
    for batch, batch_tags in tag_batches(tagger, SENTENCES, batch_size=3):
        assert len(batch) <= 3
        tally.add_many(start, batch, batch_tags)
        start += len(batch)
    assert tally.results() == expected
    assert tally.n_sentences == len(SENTENCES) and 0 < tally.n_tagged < len(SENTENCES)
    powershell = next(r for r in tally.results() if r["id"] == "T1059.001")
    assert powershell["count"] == 4 and len(powershell["evidence"]) == 3  # the weakest of 4 is dropped


def test_tally_keeps_the_earlier_sentence_on_equal_scores():
    tally = TechniqueTally(lambda tid, s: {"id": tid, "score": s}, max_evidence=2)
    tag = {"techniques": [{"id": "T1", "score": 0.5}]}
    for i in range(4):
        tally.add(i, f"s{i}", tag, report="r")
    (rec,) = tally.results()
    assert [e["sentence"] for e in rec["evidence"]] == [0, 1] and rec["count"] == 4 and rec["reports"] == ["r"]


def test_sentence_record_is_exactly_top_and_techniques(tagger):
    (tag,) = tagger.tag(["the actor used powershell to run encoded commands"])
    rec = sentence_record(tag)
    assert set(rec) == {"top", "techniques"}
    assert set(rec["top"]) == {"id", "name", "tactic", "score"} and rec["top"]["id"] == "T1059.001"
    assert [t["id"] for t in rec["techniques"]] == ["T1059.001"]
    assert set(sentence_record(tag, candidates=True)) == {"top", "techniques", "candidates"}
    assert dict(BLANK) == {"top": None, "techniques": []}


def test_tag_proba_equals_tag(tagger):
    proba = tagger.predict_proba(SENTENCES)
    assert tagger.tag_proba(proba, top_k=2) == tagger.tag(SENTENCES, top_k=2)
    assert tagger.tag_proba(proba[:0]) == []
