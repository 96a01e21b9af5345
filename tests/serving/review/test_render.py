"""Hidden and invalid characters are made visible; text stays text."""

from __future__ import annotations

from distilsec.serving.review.render import inert_segments, plain


def test_bidi_overrides_escapes_nul_and_undecodable_bytes_become_markers():
    text = "ls \u202etxt.exe\x00\x1b[31m" + b"\xff".decode("utf-8", "surrogateescape") + "\ufffd\n\tok"
    segs, shown, total = inert_segments(text)
    markers = [s.text for s in segs if s.escape]
    assert markers == ["\\u202e", "\\x00", "\\x1b", "\\xff", "\\ufffd"]
    assert "".join(s.text for s in segs if not s.escape) == "ls txt.exe[31m\n\tok"
    assert shown == total == len(text)
    "".join(s.text for s in segs).encode("utf-8")  # no lone surrogate left: the page can be encoded


def test_long_texts_are_cut_for_the_page_and_snippets_are_one_line():
    segs, shown, total = inert_segments("A" * 100_000, limit=1000)
    assert (shown, total) == (1000, 100_000) and len(segs[0].text) == 1000
    assert plain("a\nb" + "c" * 400) == "a \u23ce b" + "c" * 297 + "\u2026"
