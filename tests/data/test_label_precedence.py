"""Analyst labels outrank teacher labels outrank original labels."""

from __future__ import annotations

from distilsec.data.label_precedence import resolve_labels


def test_analyst_outranks_teacher_outranks_original():
    r = resolve_labels(
        ["a", "b", "c", "d"],
        original={"a": "benign", "b": "benign", "c": "benign", "d": None},
        teacher={"a": "malicious", "b": "malicious"},
        analyst={"a": "benign"},
    )
    assert r.labels == ["benign", "malicious", "benign", None]
    assert r.sources == ["analyst", "teacher", "original", None]
    assert r.counts == {"analyst": 1, "teacher": 1, "original": 1}
