"""synthesize(): every attempt is kept or rejected by name, nothing near the protected set survives."""

from __future__ import annotations

import pytest

from distilsec.data.curate import jaccard, shingles
from distilsec.data.example import Example
from distilsec.errors import ConfigError, DataError
from distilsec.methods import synthesize
from distilsec.methods.synthesize import CmdlineMutator, HTMLTemplateMutator
from distilsec.methods.synthesize.base import Candidate
from distilsec.methods.synthesize.filters import exact_near_copies
from tests.conftest import BENIGN, MALICIOUS
from tests.methods.synthesize.fakes import KeywordJudge


def _seeds() -> list[Example]:
    return [Example(t, "malicious", group=t.split()[0]) for t in MALICIOUS] + [
        Example(t, "benign", group=t.split()[0]) for t in BENIGN
    ]


def _check_accounting(res) -> None:
    s = res.stats
    assert s["generated"] == s["kept"] + s["rejected"] == len(res.examples) + len(res.rejected)
    assert sum(s["rejected_by_filter"].values()) == s["rejected"]


def test_mutator_run_is_deterministic_and_accounted_for():
    a = synthesize(CmdlineMutator(), _seeds(), n_per_seed=4, random_state=0, progress=False)
    b = synthesize(CmdlineMutator(), _seeds(), n_per_seed=4, random_state=0, progress=False)
    _check_accounting(a)
    assert [e.text for e in a.examples] == [e.text for e in b.examples] and len(a.examples) >= 30
    by_seed = {s.id: s for s in _seeds()}
    for ex in a.examples:
        prov = ex.meta["provenance"]
        seed = by_seed[prov["seed_ids"][0]]
        assert ex.label == seed.label and ex.group == seed.group  # a variant stays on its seed's side of a split
        assert ex.source == "synth:cmdline_mutator.v1" and prov["random_seed"] >= 0
        assert jaccard(shingles(ex.text), shingles(seed.text)) < 0.9


def test_near_copies_of_the_protected_set_are_rejected_and_the_share_is_zero():
    first = synthesize(CmdlineMutator(), _seeds(), n_per_seed=4, random_state=0, progress=False)
    # protect near-copies of three generated samples (an extra char: Jaccard >= 0.9, not identical)
    protected = [first.examples[i].text + "x" for i in (0, 5, 10)] + ["ls -la /srv/unrelated"]
    res = synthesize(CmdlineMutator(), _seeds(), n_per_seed=4, random_state=0, protected=protected, progress=False)
    _check_accounting(res)
    assert res.stats["rejected_by_filter"]["near_duplicate_protected"] >= 3
    assert res.stats["near_duplicate_share_protected"] == 0.0
    assert exact_near_copies([e.text for e in res.examples], protected, threshold=0.9) == {}
    assert {first.examples[i].text for i in (0, 5, 10)}.isdisjoint(e.text for e in res.examples)


def test_judge_filters_label_disagreement_and_survives_a_failing_judge():
    res = synthesize(CmdlineMutator(), _seeds(), n_per_seed=3, judge=KeywordJudge(), progress=False)
    _check_accounting(res)
    judge = KeywordJudge()
    assert all(judge.predict_proba([e.text])[0, judge.classes_.index(e.label)] >= 0.5 for e in res.examples)
    assert res.stats["rejected_by_filter"].get("judge_disagrees", 0) > 0 and res.stats["judge"] == "KeywordJudge"
    failing = synthesize(CmdlineMutator(), _seeds(), n_per_seed=2, judge=KeywordJudge(fail=True), progress=False)
    assert failing.examples == [] and failing.stats["rejected_by_filter"]["judge_error"] > 0
    _check_accounting(failing)


def test_generator_crash_on_one_seed_is_counted_and_the_rest_continues():
    class Flaky:
        name, task = "flaky.v1", "cmdline"

        def generate(self, seed, n, *, random_state=0):
            if "git" in seed.text:
                raise RuntimeError("mutator bug on a hostile seed")
            return [
                Candidate(f"{seed.text} --variant {i} x{random_state}", seed.label, seed.id, {"variation": "flag"})
                for i in range(n)
            ]

    res = synthesize(Flaky(), _seeds(), n_per_seed=2, progress=False, seed_near_dup_threshold=1.0)
    assert res.stats["rejected_by_filter"]["seed_error"] == 2 and res.stats["kept"] > 0
    _check_accounting(res)


def test_html_pages_end_to_end_with_garbage_seeds():
    page = (
        "<html><head><title>Sign in - Outlook</title></head><body><h1>Outlook</h1><form action=x.php>"
        "<input type=email name=login placeholder='Email'><input type=password name=passwd placeholder=Password>"
        "<input type=submit value='Sign in'></form><p>Forgot your password?</p></body></html>"
    )
    seeds = [
        Example(page, "malicious"),
        Example("<html>" + "<p>x</p>" * 200_000, "malicious", id="too-big"),  # above the mutator's cap
        Example("<![foo[ boom ]]>", "malicious", id="bad-decl"),
    ]
    res = synthesize(HTMLTemplateMutator(), seeds, n_per_seed=3, progress=False)
    _check_accounting(res)
    assert res.stats["kept"] == 3
    assert res.stats["rejected_by_filter"] == {"seed_too_large": 3, "seed_error": 3}


def test_bad_arguments_are_named_errors():
    with pytest.raises(DataError, match="no label"):
        synthesize(CmdlineMutator(), [Example("ls", None)], progress=False)
    with pytest.raises(DataError):
        synthesize(CmdlineMutator(), [], progress=False)
    with pytest.raises(ConfigError):
        synthesize(CmdlineMutator(), _seeds(), task="pdf", progress=False)
    with pytest.raises(ConfigError):
        synthesize(CmdlineMutator(), _seeds(), near_dup_threshold=1.5, progress=False)
