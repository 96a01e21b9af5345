"""The review app over HTTP: decisions, conflicts, undo, inert text, and its guard (host, token, CSRF, size)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the 'serve' extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from distilsec.data.review_items import read_review_cache  # noqa: E402
from distilsec.serving.review.app import ReviewSettings, create_review_app  # noqa: E402
from distilsec.serving.review.security import CSRF_COOKIE  # noqa: E402
from tests.review_run import SCRIPT_TEXT, tiny_run_copy  # noqa: E402

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return tiny_run_copy(tmp_path)


def _client(run: Path, **settings) -> TestClient:
    app = create_review_app(ReviewSettings(run_dir=run, analyst="alice", port=8000, **settings))
    return TestClient(app, base_url=BASE, follow_redirects=False)


def _post(client: TestClient, path: str, body: dict, **headers) -> object:
    client.get("/healthz")  # sets the CSRF cookie
    token = client.cookies.get(CSRF_COOKIE)
    head = {"Origin": BASE, "X-CSRF-Token": token, "Content-Type": "application/json", **headers}
    return client.post(path, content=json.dumps(body), headers=head)


def _item_with(run: Path, text: str) -> str:
    cache = read_review_cache(run / "review")
    return next(i for i, it in cache.items.items() if it.text == text)


def test_the_index_sends_the_analyst_to_the_first_queued_item(run):
    client = _client(run)
    first = read_review_cache(run / "review").queue[0]
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"] == f"/item/{first}"
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and 'data-label="malicious"' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and page.headers["x-frame-options"] == "DENY"


def test_item_text_is_escaped_never_markup(run):
    client = _client(run)
    page = client.get(f"/item/{_item_with(run, SCRIPT_TEXT)}").text
    assert "<script>window.__distilsec_pwned" not in page
    assert "&lt;script&gt;window.__distilsec_pwned = 1&lt;/script&gt;" in page
    assert page.count("<script") == 1  # the page's own /static/review.js only


def test_a_decision_is_appended_and_a_stale_tab_gets_409(run):
    client = _client(run)
    item = read_review_cache(run / "review").queue[0]
    r = _post(client, "/api/decision", {"item": item, "action": "label", "label": "malicious", "expect": ""})
    assert r.status_code == 200, r.text
    assert r.json()["entry"]["new"] == "malicious" and r.json()["next"] != item
    stale = _post(client, "/api/decision", {"item": item, "action": "label", "label": "benign", "expect": ""})
    assert stale.status_code == 409 and stale.json()["current"]["label"] == "malicious"
    assert client.get("/api/state").json()["decisions"] == 1
    undo = _post(client, "/api/undo", {})
    assert undo.status_code == 200 and undo.json()["item"] == item
    assert client.get("/api/state").json()["decisions"] == 0
    assert _post(client, "/api/decision", {"item": item, "action": "label", "label": "evil"}).status_code == 422


def test_posts_without_the_csrf_token_or_from_another_origin_are_refused(run):
    client = _client(run)
    item = read_review_cache(run / "review").queue[0]
    body = {"item": item, "action": "label", "label": "malicious"}
    assert _post(client, "/api/decision", body, **{"X-CSRF-Token": "forged"}).status_code == 403
    assert _post(client, "/api/decision", body, Origin="http://evil.example").status_code == 403
    form = client.post("/api/decision", data={"item": item}, headers={"Origin": BASE})
    assert form.status_code == 403
    assert client.get("/api/state").json()["ledger_lines"] == 0


def test_request_bodies_are_bounded(run):
    client = _client(run, max_request_bytes=1024)
    r = _post(client, "/api/decision", {"item": "x", "action": "note", "note": "n" * 5000})
    assert r.status_code == 413


def test_another_host_name_is_refused_dns_rebinding(run):
    client = _client(run)
    assert client.get("/", headers={"Host": "attacker.example:8000"}).status_code == 421


def test_a_page_bound_beyond_loopback_needs_its_token(run):
    app = create_review_app(ReviewSettings(run_dir=run, analyst="alice", host="0.0.0.0", port=8000, token="s3cret"))
    client = TestClient(app, base_url=BASE, follow_redirects=False)
    assert client.get("/queue").status_code == 401
    r = client.get("/queue?token=s3cret")
    assert r.status_code == 303 and r.headers["location"] == "/queue" and "HttpOnly" in r.headers["set-cookie"]
    assert client.get("/queue").status_code == 200  # the cookie now
    assert client.get("/queue", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    # reached by the machine's own network name: the token, not the host name, is the gate
    other = {"Host": "soc-box.example:8000", "Authorization": "Bearer s3cret"}
    assert client.get("/queue", headers=other).status_code == 200
    stranger = TestClient(app, base_url="http://soc-box.example:8000", follow_redirects=False)
    assert stranger.get("/queue").status_code == 401


def test_the_whole_text_downloads_as_an_attachment(run):
    client = _client(run)
    r = client.get(f"/item/{_item_with(run, SCRIPT_TEXT)}/text")
    assert r.headers["content-disposition"].startswith("attachment") and r.content == SCRIPT_TEXT.encode()
    assert r.headers["content-type"].startswith("application/octet-stream")
