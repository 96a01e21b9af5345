"""The teacher's view of an HTML page: title, forms and visible text first; never an exception."""

from __future__ import annotations

import pytest

from distilsec.data.html_text import apply_view, html_view

LOGIN = (
    "<!doctype html><html><head><meta charset=utf-8><title>Sign in &amp; verify</title>"
    "<style>body{color:red}</style><script>var a = '<p>not text</p>';</script>"
    + "<link rel=stylesheet href=x.css>"
    * 200
    + "</head><body><noscript>enable js</noscript><h1>Welcome</h1>"
    '<form method="POST" action="https://evil.example/post.php"><input type="email" placeholder="Email">'
    '<input type="password" name="pass"><button type="submit">Log in</button></form>'
    "<p>Forgot   your\n password?</p></body></html>"
)


def test_view_puts_title_forms_and_text_first() -> None:
    v = html_view(LOGIN)
    assert v.startswith("title: Sign in & verify | form: form post https://evil.example/post.php;")
    assert "email Email" in v and "password pass" in v and "button Log in" in v
    assert v.endswith("text: Welcome Log in Forgot your password?")
    assert "color:red" not in v and "not text" not in v and "enable js" not in v


def test_view_is_capped_and_reads_a_bounded_prefix() -> None:
    page = "<title>t</title><body>" + "<p>word</p>" * 200_000
    assert len(html_view(page, max_chars=500)) == 500
    late = "<p>" + "x " * 400_000 + "</p><form action=late.php></form>"
    assert "late.php" not in html_view(late, max_input_chars=10_000)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain text, no markup",
        "<<<>>>",
        "<div",
        "<!-- unclosed",
        "\x00\ufffd<p>\ud800</p>",
        "<svg><p>hid",
        "<a" * 5000,
    ],
)
def test_view_never_raises(text: str) -> None:
    assert isinstance(html_view(text), str)


def test_unclosed_hidden_block_in_head_does_not_hide_the_body() -> None:
    assert "visible" in html_view("<head><noscript><title>t</title></head><body><p>visible</p>")


def test_apply_view_names() -> None:
    assert apply_view("raw", ["<p>x</p>"], 10) == ["<p>x</p>"]
    assert apply_view("html", ["<p>x</p>"], 10) == ["text: x"]
    with pytest.raises(ValueError, match="known"):
        apply_view("pdf", ["x"], 10)


def test_html_blocks_split_at_block_elements_and_drop_hidden_text() -> None:
    from distilsec.data.html_text import html_blocks

    page = (
        "<title>APT report</title><script>var x = '<p>hidden</p>';</script><h2>Execution</h2>"
        "<ul><li>Ran PowerShell</li><li>Used <b>cmd</b></li></ul><pre>whoami\nnet user</pre><p>a &amp; b</p>"
    )
    assert html_blocks(page) == ["APT report", "Execution", "Ran PowerShell", "Used cmd", "whoami", "net user", "a & b"]
    assert html_blocks("") == [] and html_blocks("plain words") == ["plain words"]
