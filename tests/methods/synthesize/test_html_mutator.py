"""Page re-skinning keeps the credential form and names the new brand; broken and huge pages are handled."""

from __future__ import annotations

import re
import time

import pytest

from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.methods.synthesize import HTMLTemplateMutator
from distilsec.methods.synthesize.brands import DEFAULT_BRANDS, Brand, translate_phrases
from distilsec.methods.synthesize.filters import check_html
from distilsec.methods.synthesize.html_tree import iter_elements, parse_html, serialise
from distilsec.methods.synthesize.seeds import read_seeds

PAGE = """<!DOCTYPE html>
<html><head><title>PayPal: Log in to your account</title><link rel="icon" href="/paypal/favicon.ico">
<style>.login-box{background:#003087;color:#fff} #main .btn{color:#009cde}</style></head>
<body><div id="main" class="wrap"><img class="logo" src="img/paypal-logo.png" alt="PayPal">
<h1>Log in to PayPal</h1>
<form action="post.php" method="post"><input type="hidden" name="a" value="1"><input type="hidden" name="b" value="2">
<label for="email">Email</label><input type="email" id="email" name="email" placeholder="Email address">
<label for="pw">Password</label><input type="password" id="pw" name="password" placeholder="Password">
<input type="submit" class="btn" value="Log In"></form><p class="small">Forgot your password?</p></div>
<script>document.getElementById('main').className='wrap';</script></body></html>"""


def _password_forms(html: str) -> int:
    root = parse_html(html)
    return sum(
        1
        for form in iter_elements(root)
        if form.tag == "form" and any(el.tag == "input" and el.get("type") == "password" for el in iter_elements(form))
    )


def test_variants_keep_the_password_form_and_name_the_new_brand():
    cands = HTMLTemplateMutator().generate(Example(PAGE, "malicious"), 6, random_state=0)
    assert len({c.provenance["target_brand"] for c in cands}) == 6  # six skins, not six copies
    for c in cands:
        brand = c.provenance["target_brand"]
        assert c.text and c.label == "malicious" and check_html(c.text) is None
        assert _password_forms(c.text) == 1
        assert brand in c.text and brand in parse_html(c.text).text() + c.text.split("<title>")[1]
        assert "PayPal" not in parse_html(c.text).text()  # the old brand is gone from the visible text
        assert c.provenance["source_brand"] == "PayPal" and c.provenance["operations"][0] == "brand"


def test_storefront_products_and_languages():
    stores = [Brand("Jade Leaf Tea", "tea", ("#3b7d4f", "#f4f1e8"), "store")]
    c = HTMLTemplateMutator(stores, languages=["de"]).generate(Example(PAGE, "malicious"), 1)[0]
    assert "Jade Leaf Tea" in c.text and c.provenance["product"] == "tea" and c.provenance["language"] == "de"
    assert 'lang="de"' in c.text and "Passwort" in c.text
    assert {b.product for b in DEFAULT_BRANDS} >= {"jewels", "tea", "curtains", "perfumes", "sunglasses", "cushions"}
    assert translate_phrases("Sign in", "fr") == "Se connecter" and translate_phrases("Sign in", "xx") == "Sign in"


def test_css_renames_are_consistent_and_deterministic():
    m = HTMLTemplateMutator(max_similarity=0.0)  # every operation applies
    a = m.generate(Example(PAGE, "malicious"), 2, random_state=3)
    b = m.generate(Example(PAGE, "malicious"), 2, random_state=3)
    assert [c.text for c in a] == [c.text for c in b]
    text = a[0].text
    root = parse_html(text)
    main_id = next(el.get("id") for el in iter_elements(root) if el.tag == "div" and el.get("id"))
    assert f"getElementById('{main_id}')" in text and "#main" not in text  # script and style follow the rename
    labels = {el.get("for") for el in iter_elements(root) if el.tag == "label"}
    ids = {el.get("id") for el in iter_elements(root) if el.tag == "input"}
    assert labels <= ids  # <label for> follows renamed fields


def test_malformed_html_is_handled():
    broken = '<html><body><form><p>Sign in<p><input type=password name=x><div></span></b></form><input type="text'
    cands = HTMLTemplateMutator().generate(Example(broken, "malicious"), 3)
    assert all(c.text and _password_forms(c.text) == 1 for c in cands)
    bad_decl = HTMLTemplateMutator().generate(Example("<![foo[ x ]]><form></form>", "malicious"), 2)
    assert {c.error for c in bad_decl} == {"seed_error"} and "could not be parsed" in bad_decl[0].detail
    deep = "<div>" * 100_000 + "<form><input type=password></form>"
    root = parse_html(deep)
    assert '<input type="password">' in serialise(root)  # no recursion error, nesting capped


def test_a_50_mb_page_is_refused_fast_and_counted():
    huge = "<html><body>" + "<p>spam</p>" * (50_000_000 // 11) + "</body></html>"
    t0 = time.perf_counter()
    cands = HTMLTemplateMutator().generate(Example(huge, "malicious", id="huge"), 3)
    assert [c.error for c in cands] == ["seed_too_large"] * 3
    assert check_html(huge) is not None and "cap" in check_html(huge)
    assert time.perf_counter() - t0 < 5.0


def test_seed_pages_with_non_utf8_bytes_and_oversized_pages(tmp_path):
    (tmp_path / "latin.html").write_bytes("<html><title>Connexion Crédit</title><form></form></html>".encode("cp1252"))
    (tmp_path / "utf8.html").write_text("<html><title>Straße</title></html>", encoding="utf-8")
    (tmp_path / "big.html").write_bytes(b"<p>" + b"x" * 5000 + b"</p>")
    (tmp_path / "junk.html").write_bytes(b"\x81\x8d\x8f\x90\x9d<p>x</p>")
    skips = SkipCounter()
    seeds = read_seeds([tmp_path], label="malicious", max_page_chars=1000, skips=skips)
    texts = {s.source: s.text for s in seeds}
    assert "Crédit" in texts["latin.html"] and "Straße" in texts["utf8.html"]
    assert skips.as_dict() == {"page_too_large": 1} and skips.notes_dict()["page_not_utf8"] == 2
    assert check_html(texts["junk.html"]) is not None  # undefined cp1252 bytes -> U+FFFD -> rejected later


@pytest.mark.parametrize("junk", ["", "plain words only", "<<<>>>", "\x00\x01", "<p>" * 10])
def test_junk_pages_give_candidates_or_counted_errors(junk):
    for c in HTMLTemplateMutator().generate(Example(junk, "benign", id="j"), 2):
        assert (c.text is None) == (c.error is not None)


def test_unknown_source_brands_are_recognised_and_benign_pages_get_neutral_titles():
    gh = PAGE.replace("PayPal", "GitHub").replace("paypal", "github")
    c = HTMLTemplateMutator().generate(Example(gh, "malicious"), 1)[0]
    assert c.provenance["source_brand"] == "GitHub" and "GitHub" not in parse_html(c.text).text()
    for c in HTMLTemplateMutator().generate(Example(PAGE, "benign"), 6):
        title = next(el.text() for el in iter_elements(parse_html(c.text)) if el.tag == "title")
        assert c.provenance["target_brand"] in title
        assert not re.search(r"sign in|log ?in|secure|anmelden|connexion|accedi|inloggen|entrar|inicia", title, re.I)
