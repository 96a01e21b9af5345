"""URL normalisation: the scheme / bare-domain format shortcut disappears."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilsec.data.url_normalise import normalise_url as U

URL_FRAGMENTS = [
    "http://", "https://", "HTTP://", "ftp://", "www.", "WWW.", "a", "B", ".com", "/", "?", "q=1", "&amp;",
    "&", "amp;", "#", "@", ":", "8080", " ", "%20", "x.y", "\u0130",
]  # fmt: skip
url_soup = st.lists(st.sampled_from(URL_FRAGMENTS), max_size=25).map("".join)


@pytest.mark.parametrize(
    "variants",
    [
        ["http://a.com/", "a.com", "https://a.com", "HTTP://WWW.A.COM/", "www.a.com/", "  a.com  "],
        ["http://a.com/x/y?q=1", "a.com/x/y?q=1", "https://www.A.com/x/y?q=1"],
        ["http://a.com/?a=1&amp;b=2", "a.com/?a=1&b=2", "a.com/?a=1&amp;amp;b=2"],
    ],
)
def test_format_variants_normalise_alike(variants: list[str]) -> None:
    assert len({U(v) for v in variants}) == 1, [U(v) for v in variants]


def test_keeps_content() -> None:
    assert U("HTTPS://Example.COM/Path/File.PHP?ID=A") == "example.com/Path/File.PHP?ID=A"
    assert U("FTP://a.com/x") == "ftp://a.com/x"
    assert U("http://user:Pw@Host.com/") == "user:Pw@host.com"
    assert U("a.com/dir/") == "a.com/dir/"  # only a lone trailing slash goes
    assert U("") == ""


@settings(max_examples=500, deadline=None)
@given(st.one_of(url_soup, st.text(max_size=100)))
def test_idempotent_and_never_raises(url: str) -> None:
    once = U(url)
    assert U(once) == once
    assert not once.lower().startswith(("http://", "https://"))
