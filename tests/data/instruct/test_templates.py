"""Template records: distractors of the same kind, never the answer, balanced letters, held-out-aware draws."""

from __future__ import annotations

from collections import Counter

import pytest

from distilsec.data.instruct.records import LETTERS, SYSTEM_PROMPT
from distilsec.data.instruct.templates import TEMPLATES, family, generate
from distilsec.data.knowledge.load import load_knowledge
from distilsec.data.skips import SkipCounter
from tests.data.knowledge.cti_fixtures import make_knowledge_dir


@pytest.fixture(scope="module")
def links(tmp_path_factory):
    return load_knowledge(make_knowledge_dir(tmp_path_factory.mktemp("k"))).links


def _pools(L):
    """Template -> (option text -> entity ID of its kind, subject -> IDs of every true answer)."""
    tech = {v: k for k, v in L.technique_names.items()}
    cwe = {f"{k}: {v}": k for k, v in L.cwe_names.items()}
    return {
        "mitigation": (
            {v: k for k, v in L.mitigation_names.items()},
            {t: {m for m, _ in v} for t, v in L.technique_mitigations.items()},
        ),
        "detection": (
            {v: k for k, v in L.data_component_names.items()},
            {t: set(v) for t, v in L.technique_data_components.items()},
        ),
        "tactic": (
            {t: t for ts in L.technique_tactics.values() for t in ts},
            {t: set(v) for t, v in L.technique_tactics.items()},
        ),
        "capec_cwe": (cwe, {c: set(v) for c, v in L.capec_cwes.items()}),
        "cwe_capec": ({v: k for k, v in L.capec_names.items()}, {c: set(v) for c, v in L.cwe_capecs().items()}),
        "capec_technique": (tech, {c: set(v) for c, v in L.capec_techniques.items()}),
        "technique_name": (tech, {t: {t} for t in L.technique_names}),
        "cve_cwe": (cwe, {c.cve_id: {c.cwe} for c in L.cves}),
        "procedure": (tech, {p.relationship: {p.technique} for p in L.procedures}),
    }


def test_every_template_gives_mcq_and_free_records(links):
    recs = generate(links, held=set(), seed=0, skips=SkipCounter())
    forms = Counter((r.template, r.form) for r in recs)
    for t in TEMPLATES:
        assert forms[(t, "mcq")] > 0 and forms[(t, "free")] > 0, t
    doc = recs[0].to_json()
    assert [m["role"] for m in doc["messages"]] == ["system", "user", "assistant"]
    assert doc["messages"][0]["content"] == SYSTEM_PROMPT
    assert {"id", "template", "entities", "provenance", "split"} <= set(doc["meta"])


def test_distractors_are_same_kind_and_never_an_answer(links):
    pools = _pools(links)
    for r in generate(links, held=set(), seed=1, skips=SkipCounter()):
        if r.form != "mcq":
            continue
        by_text, truths = pools[r.template]
        assert len(r.options) == 4 and len(set(r.options)) == 4
        ids = [by_text[o] for o in r.options]  # KeyError: an option of another kind
        correct = ids[LETTERS.index(r.answer)]
        assert correct in truths[r.subject]
        fams = {family(x) for x in truths[r.subject]}
        for i, d in enumerate(ids):
            if i != LETTERS.index(r.answer):
                assert d not in truths[r.subject], (r.id, d)
                if r.template in ("capec_technique", "procedure"):  # not the answer's parent or sibling either
                    assert family(d) not in fams, (r.id, d)


def test_answer_letters_are_balanced_per_template(links):
    recs = [r for r in generate(links, held=set(), seed=2, skips=SkipCounter()) if r.form == "mcq"]
    for t in TEMPLATES:
        counts = Counter(r.answer for r in recs if r.template == t)
        if sum(counts.values()) >= 8:
            assert max(counts.values()) - min(counts.get(x, 0) for x in LETTERS) <= 1, (t, counts)


def test_seeded_and_held_out_entities_not_drawn_as_distractors(links):
    a = [r.to_json() for r in generate(links, held=set(), seed=3, skips=SkipCounter())]
    b = [r.to_json() for r in generate(links, held=set(), seed=3, skips=SkipCounter())]
    assert a == b
    held = {"T1005", "CWE-79", "CAPEC-3"}
    pools = _pools(links)
    checked = 0
    for r in generate(links, held=held, seed=3, skips=SkipCounter()):
        if r.form != "mcq":
            continue
        ids = [pools[r.template][0][o] for o in r.options]
        correct = ids.pop(LETTERS.index(r.answer))
        if family(r.subject) not in held and family(correct) not in held:
            assert not {family(d) for d in ids} & held, r.id
            checked += 1
    assert checked > 50


def test_too_few_distractors_is_a_counted_skip(links):
    from copy import deepcopy

    L = deepcopy(links)
    L.mitigation_names = {k: v for k, v in list(L.mitigation_names.items())[:3]}
    L.technique_mitigations = {"T1000": [("M1000", "")]}
    skips = SkipCounter()
    recs = generate(L, held=set(), seed=0, skips=skips, templates=["mitigation"])
    assert [r.form for r in recs] == ["free"] and skips.as_dict() == {"mitigation_too_few_distractors": 1}


def test_a_distractor_never_reads_like_another_true_answer():
    """ATT&CK reuses names across matrices (Enterprise M1051 and ICS M0951 are both "Update Software"): an
    option with a true answer's name under another ID would be a second right answer."""
    from distilsec.data.knowledge.links import KnowledgeLinks

    names = {f"M{1000 + i}": f"Mitigation {i}" for i in range(8)}
    names["M0951"] = "Update Software"
    names["M1051"] = "Update Software"
    L = KnowledgeLinks(
        technique_names={"T1001": "Data Obfuscation"},
        mitigation_names=names,
        technique_mitigations={"T1001": [("M1000", ""), ("M0951", "")]},
    )
    for seed in range(30):
        for r in generate(L, held=set(), seed=seed, skips=SkipCounter(), templates=["mitigation"]):
            if r.form != "mcq":
                continue
            right = r.options[LETTERS.index(r.answer)]
            wrong = [o for o in r.options if o != right]
            assert "Update Software" not in wrong, (seed, r.options, r.answer)
