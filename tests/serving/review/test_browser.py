"""The review page in a real headless Chromium: keyboard decisions, reload, undo, retrain; hostile text stays inert.

Chromium is Debian's (``make setup-browser``), driven by Playwright with ``executable_path`` (no browser
download). Outside CI a machine without them skips this test, saying so; in CI (``CI=true``) their absence
fails it, because ``make test`` installs them. ``DISTILSEC_UPDATE_SCREENSHOT=1`` refreshes
``docs/review-page.png`` from the page this test renders.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from distilsec.data.label_ledger import LabelLedger
from distilsec.data.review_items import read_review_cache
from tests.review_run import BAD_BYTES, JS_URL_TEXT, LONG_TEXT, SCRIPT_TEXT, tiny_run_copy

CHROMIUM = "/usr/bin/chromium"
#: the flags that work on this project's machines (no sandbox as root, no background network)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SHOT = Path(__file__).resolve().parents[3] / "docs" / "review-page.png"


def _need_browser() -> None:
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (dev extra)")
    if not Path(CHROMIUM).is_file():
        missing.append(f"{CHROMIUM} (make setup-browser)")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + ": make test installs them")
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The review app of a fresh tiny run, served by uvicorn in a thread on a free loopback port."""
    _need_browser()
    import uvicorn

    from distilsec.serving.review.app import ReviewSettings, create_review_app

    run = tiny_run_copy(tmp_path)
    port = _free_port()
    app = create_review_app(ReviewSettings(run_dir=run, analyst="alice", port=port))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the review server did not start"
    yield f"http://127.0.0.1:{port}", run
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def page(served: tuple[str, Path]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1200, "height": 1100})
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors  # type: ignore[attr-defined]
        yield pg
        browser.close()


def _item_id(run: Path, text: str) -> str:
    cache = read_review_cache(run / "review")
    return next(i for i, it in cache.items.items() if it.text == text)


def _decide_with_key(pg: object, key: str) -> str:
    pg.wait_for_selector("#item")  # type: ignore[attr-defined]
    item = pg.get_attribute("#item", "data-item")  # type: ignore[attr-defined]
    with pg.expect_navigation():  # type: ignore[attr-defined]
        pg.keyboard.press(key)  # type: ignore[attr-defined]
    return str(item)


def test_keyboard_decisions_survive_a_reload_undo_and_count_in_the_retrained_report(served, page):
    from distilsec.pipeline.retrain import retrain

    base, run = served
    page.goto(base + "/")
    decided = [_decide_with_key(page, key) for key in ("m", "b", "1")]  # malicious, benign, first class
    assert len(set(decided)) == 3
    page.reload()
    assert page.inner_text("#progress").startswith("3 / ")
    with page.expect_navigation():
        page.keyboard.press("u")  # undo my latest decision: the page returns to that item
    assert page.get_attribute("#item", "data-item") == decided[2]
    assert page.inner_text("#decision").strip() == "undecided"
    assert "undo of" in page.inner_text(".history")

    state = LabelLedger(run / "review" / "ledger.jsonl").state()
    assert len(state.entries) == 4 and set(state.decisions) == set(decided[:2])
    assert [state.decisions[i].label for i in decided[:2]] == ["malicious", "benign"]
    assert all(d.who == "alice" for d in state.decisions.values())

    if os.environ.get("DISTILSEC_UPDATE_SCREENSHOT"):
        page.goto(f"{base}/item/{decided[0]}")
        page.screenshot(path=str(DOCS_SHOT), full_page=True)

    result = retrain(run)
    report = (result.run_dir / "report.md").read_text()
    assert "## Analyst corrections" in report and "2 current analyst decisions" in report
    splits = {read_review_cache(run / "review").items[i].split for i in decided[:2]}
    section = report.split("## Analyst corrections")[1].split("\n## ")[0]
    table = [line for line in section.splitlines() if line.startswith(("| train |", "| val |", "| test |"))]
    counted = {row.split("|")[1].strip(): int(row.split("|")[2]) + int(row.split("|")[3]) for row in table}
    assert sum(counted.values()) == 2 and {s for s, n in counted.items() if n} == splits
    assert not page.errors  # type: ignore[attr-defined]


def test_hostile_item_text_is_shown_inertly(served, page):
    base, run = served
    page.goto(f"{base}/item/{_item_id(run, SCRIPT_TEXT)}")
    assert page.inner_text("#text") == SCRIPT_TEXT  # shown as text...
    assert page.evaluate("typeof window.__distilsec_pwned") == "undefined"  # ...and never run

    page.goto(f"{base}/item/{_item_id(run, JS_URL_TEXT)}")
    assert page.inner_text("#text") == JS_URL_TEXT
    assert page.locator("a[href^='javascript:']").count() == 0 and page.locator("#text a").count() == 0
    page.click("#text")
    assert page.evaluate("typeof window.__distilsec_pwned") == "undefined"

    page.goto(f"{base}/item/{_item_id(run, LONG_TEXT)}")
    shown = page.inner_text("#text")
    assert len(shown) == 65536 and set(shown) == {"A"}
    assert "1000000 characters; the first 65536 shown" in page.inner_text(".text-head")

    cache = read_review_cache(run / "review")
    bad = next(it for it in cache.items.values() if it.text.startswith("cmd.exe /c "))
    page.goto(f"{base}/item/{bad.id}")
    markers = page.locator("#text .esc").all_inner_texts()
    assert "\\x1b" in markers and any(m in ("\\ufffd", "\\xff") for m in markers), markers
    assert "payload" in page.inner_text("#text") and BAD_BYTES  # the rest of the line is there, inert
    assert page.evaluate("typeof window.__distilsec_pwned") == "undefined"
    assert not page.errors  # type: ignore[attr-defined]


def test_the_documented_screenshot_exists():
    assert DOCS_SHOT.is_file() and DOCS_SHOT.stat().st_size > 10_000
