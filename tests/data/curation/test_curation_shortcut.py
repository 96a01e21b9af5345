"""Shortcut audit: a format-only model finds the placeholder shortcut, and normalisation removes it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from distilsec.data.example import Example
from distilsec.data.placeholders import normalise_placeholders
from distilsec.data.shortcut import FORMAT_FEATURES, format_features, format_shortcut_markdown, shortcut_audit
from distilsec.errors import DataError

TOOLS = ["tar", "curl", "grep", "Copy-Item", "sed", "rsync", "Get-Content", "openssl", "zip", "scp"]
OPTS = ["-v", "-r", "--force", "-o", "-Recurse", "", "-q"]


def synthetic(n: int, seed: int) -> list[Example]:
    """Same commands for both labels; only the placeholder *syntax* depends on the label (as by source)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        bad = bool(rng.integers(2))
        tool, opt = TOOLS[rng.integers(len(TOOLS))], OPTS[rng.integers(len(OPTS))]
        if bad:
            ph_in, ph_out, src = "#{input_file}", "{PATH:.txt}", "atomic"
        else:
            ph_in, ph_out, src = "{{path/to/file}}", "{{path/to/file.txt}}", "tldr"
        text = f"{tool} {opt} {ph_in} {ph_out}".replace("  ", " ")
        label = "malicious" if bad else "benign"
        out.append(Example(text, label, group=f"g{i}", source=src, platform="linux"))
    return out


def test_format_features_shape() -> None:
    x = format_features(["a", "{{b}}\nc", ""])
    assert x.shape == (3, len(FORMAT_FEATURES))
    assert np.isfinite(x).all()
    assert format_features([]).shape == (0, len(FORMAT_FEATURES))


def test_audit_finds_shortcut_and_normalisation_removes_it() -> None:
    train, test = synthetic(600, 0), synthetic(300, 1)
    audit = shortcut_audit(train, test, text_fn=normalise_placeholders)
    assert audit["format_raw"]["auc"] > 0.97
    assert 0.4 <= audit["format_normalised"]["auc"] <= 0.6
    assert audit["source_only"]["auc"] == 1.0
    assert 0.4 <= audit["platform_only"]["auc"] <= 0.6
    json.dumps(audit)
    # the explicit four-argument form gives the same result
    norm = [ex.with_text(normalise_placeholders(ex.text)) for ex in train]
    norm_test = [ex.with_text(normalise_placeholders(ex.text)) for ex in test]
    again = shortcut_audit(train, test, norm, norm_test)
    assert again["format_normalised"] == audit["format_normalised"]


def test_markdown_table_and_verdicts() -> None:
    train, test = synthetic(400, 2), synthetic(200, 3)
    raw_only = shortcut_audit(train, test)
    md = format_shortcut_markdown(raw_only)
    assert md.count("\n| ") >= 3 and "format only, raw text" in md
    assert "can cheat" in md
    md2 = format_shortcut_markdown(shortcut_audit(train, test, text_fn=normalise_placeholders))
    assert "format only, normalised text" in md2 and "little of the label" in md2


def test_one_class_test_set_gives_no_auc() -> None:
    train = synthetic(100, 4)
    test = [ex for ex in synthetic(100, 5) if ex.label == "benign"]
    audit = shortcut_audit(train, test)
    assert audit["format_raw"]["auc"] is None
    assert "n/a" in format_shortcut_markdown(audit)


def test_multiclass_labels_count_non_benign_as_positive() -> None:
    train = [Example(f"http://a{i}.com/x", "phishing") for i in range(20)]
    train += [Example(f"b{i}.com", "benign") for i in range(20)]
    train += [Example(f"c{i}.net/p", "spam") for i in range(5)]
    audit = shortcut_audit(train, train)
    assert audit["positive"] == "non-benign"
    assert audit["format_raw"]["auc"] > 0.9


def test_bad_inputs() -> None:
    ex = synthetic(10, 6)
    with pytest.raises(DataError):
        shortcut_audit([], ex)
    with pytest.raises(DataError):
        shortcut_audit(ex, ex, ex, None)
    with pytest.raises(DataError):
        shortcut_audit(ex, ex, ex[:5], ex)
    weird = [Example("a", "x"), Example("b", "y"), Example("c", "z")]
    with pytest.raises(DataError):
        shortcut_audit(weird, weird)


def test_html_cues_are_audited_one_by_one() -> None:
    from distilsec.data.shortcut import HTML_CUES

    def page(i: int, bad: bool) -> Example:
        form = '<form action="post.php"><input type="password" name=p></form>' if bad else "<p>article</p>"
        return Example(f"<html>{i} {form}</html>", "phishing" if bad else "benign", group=f"g{i}", source="s")

    train = [page(i, i % 2 == 1) for i in range(40)]
    test = [page(i, i % 2 == 1) for i in range(40, 60)]
    audit = shortcut_audit(train, test, cues=HTML_CUES)
    assert audit["cues"]["password_input"]["auc"] == 1.0
    assert audit["cues"]["password_input"]["test_rate_positive"] == 1.0
    assert audit["cues"]["saved_from_comment"]["auc"] == 0.5
    md = format_shortcut_markdown(audit)
    assert "cue `password_input` only" in md and "Strongest single content cue: `password_input`" in md
    json.dumps(audit)
