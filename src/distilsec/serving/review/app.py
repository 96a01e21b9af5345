"""The review web app: the queue, one item at a time, decisions appended to the run's label ledger.

Server-rendered pages (Jinja2 with autoescape; item text through :mod:`~distilsec.serving.review.render`)
plus one small script and stylesheet served from this package (no CDN: the page works offline, and tells
no third party what is being reviewed). Routes:

* ``GET /`` — the next queued item not decided yet (nor skipped by this analyst);
* ``GET /item/{id}`` — one item: its text, reasons, every label source, similar training examples,
  its history in the ledger, and the decision buttons (keyboard shortcuts in ``static/review.js``);
* ``GET /item/{id}/text`` — the whole text as a ``text/plain`` download (the page shows the first 64 KB);
* ``GET /queue``, ``GET /history`` — the ranked queue and the ledger, newest first;
* ``POST /api/decision`` (label / skip / note) and ``POST /api/undo`` — JSON, CSRF-checked; a decision
  on an item that changed since the page was loaded gets 409 with the current decision (no lost update);
* ``GET /api/state``, ``GET /healthz``.

Bodies are bounded by the serving API's :class:`~distilsec.serving.api.limits.Door`; the outermost layer is
:class:`~distilsec.serving.review.security.ReviewGuard` (host, token, CSRF, security headers). The app
reads the review cache and the ledger only: no model, no training code.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import Request  # resolved at import: FastAPI reads the routes' annotations by name
from pydantic import BaseModel, ConfigDict, Field

from distilsec.data.label_ledger import MAX_NOTE_CHARS, LabelLedger, LedgerConflict, LedgerEntry, check_analyst_name
from distilsec.data.review_items import REVIEW_DIR, ReviewCache, ReviewItem, read_review_cache
from distilsec.errors import DistilsecError
from distilsec.serving.api.limits import Door
from distilsec.serving.review.render import DEFAULT_LIMIT, inert_segments, plain
from distilsec.serving.review.security import ReviewGuard

__all__ = ["ReviewSettings", "create_review_app", "default_analyst"]

HERE = Path(__file__).parent
PAGE_SIZE = 100


def default_analyst() -> str:
    """The analyst name decisions carry when ``--analyst`` is not given: the login name."""
    try:
        return check_analyst_name(os.environ.get("DISTILSEC_ANALYST") or getpass.getuser())
    except (OSError, KeyError, DistilsecError):
        return "analyst"


@dataclass(frozen=True)
class ReviewSettings:
    """What the app needs: the run's review folder, who decides, where it is bound, the token, limits."""

    run_dir: Path
    analyst: str
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_request_bytes: int = 64 << 10
    page_chars: int = DEFAULT_LIMIT


class DecisionIn(BaseModel):
    """``POST /api/decision``: ``expect`` is the item's decision line the page showed ("" for none)."""

    model_config = ConfigDict(extra="forbid")

    item: str = Field(min_length=1, max_length=128)
    action: Literal["label", "skip", "note"]
    label: str | None = Field(None, max_length=512)
    note: str = Field("", max_length=MAX_NOTE_CHARS)
    expect: str | None = Field(None, max_length=64)
    who: str | None = Field(None, max_length=64)


class UndoIn(BaseModel):
    """``POST /api/undo``: a ledger line, or (None) this analyst's latest line not undone yet."""

    model_config = ConfigDict(extra="forbid")

    entry: str | None = Field(None, max_length=64)
    who: str | None = Field(None, max_length=64)


class _State:
    """The cache (read once) and the ledger (re-read on every request: other tabs and imports append)."""

    def __init__(self, settings: ReviewSettings) -> None:
        self.settings = settings
        self.cache: ReviewCache = read_review_cache(settings.run_dir / REVIEW_DIR)
        self.ledger = LabelLedger(self.cache.ledger_path, original=self.cache.original_labels())
        self.ledger.state()  # a tampered ledger fails at start, not on the first click
        self.position = {item_id: i for i, item_id in enumerate(self.cache.queue)}

    def who(self, requested: str | None) -> str:
        return check_analyst_name(requested) if requested else self.settings.analyst

    def next_item(self, after: str | None = None, who: str | None = None) -> str | None:
        """The first queued item after ``after`` (wrapping) that has no decision and ``who`` did not skip."""
        state = self.ledger.state()
        queue = self.cache.queue
        start = self.position.get(after, -1) + 1 if after else 0
        for item_id in queue[start:] + queue[:start]:
            if item_id == after:
                continue
            if item_id in state.decisions or (who or self.settings.analyst) in state.skipped.get(item_id, set()):
                continue
            return item_id
        return None

    def neighbour(self, item_id: str, step: int) -> str | None:
        pos = self.position.get(item_id)
        queue = self.cache.queue
        if pos is None or not queue:
            return queue[0] if queue else None
        return queue[(pos + step) % len(queue)]


def create_review_app(settings: ReviewSettings) -> Any:
    """The ASGI app: FastAPI routes inside the body-size Door inside the ReviewGuard."""
    from fastapi import FastAPI

    state = _State(settings)
    app = FastAPI(title="distilsec review", docs_url=None, redoc_url=None, openapi_url=None)
    _pages(app, state)
    _api(app, state)
    _static(app)
    door = Door(
        app,
        max_request_bytes=settings.max_request_bytes,
        max_inflight_bytes=settings.max_request_bytes * 16,
        max_inflight_requests=16,
        admission_wait_s=2.0,
        body_timeout_s=10.0,
    )
    return ReviewGuard(door, host=settings.host, port=settings.port, token=settings.token)


# ------------------------------------------------------------------------------------------ pages


def _templates() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined)
    env.filters["snippet"] = plain
    env.filters["inert"] = lambda s: "" if s is None else plain(str(s), 10_000)
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{float(v):.3f}"
    return env


def _render(env: Any, name: str, request: Any, state: _State, **context: Any) -> Any:
    from fastapi.responses import HTMLResponse

    cache = state.cache
    ledger = state.ledger.state()
    base = {
        "csrf": request.scope.get("state", {}).get("csrf", ""),
        "meta": cache.meta,
        "classes": cache.classes,
        "analyst": state.settings.analyst,
        "n_queue": len(cache.queue),
        "n_decided": sum(1 for i in cache.queue if i in ledger.decisions),
        "n_decisions": len(ledger.decisions),
    }
    return HTMLResponse(env.get_template(name).render(**base, **context))


def _pages(app: Any, state: _State) -> None:
    from fastapi import HTTPException
    from fastapi.responses import RedirectResponse, Response

    env = _templates()

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "queue": len(state.cache.queue)}

    @app.get("/favicon.ico")
    async def favicon() -> Any:
        return Response(status_code=204)

    @app.get("/")
    async def index(request: Request) -> Any:
        nxt = state.next_item()
        if nxt is None:
            return _render(env, "done.html", request, state)
        return RedirectResponse(f"/item/{nxt}", status_code=303)

    @app.get("/item/{item_id}")
    async def item_page(item_id: str, request: Request) -> Any:
        item = state.cache.items.get(item_id)
        if item is None:
            raise HTTPException(404, "no such item in this run's review queue")
        return _render(env, "item.html", request, state, **_item_context(state, item))

    @app.get("/item/{item_id}/text")
    async def item_text(item_id: str) -> Any:
        item = state.cache.items.get(item_id)
        if item is None:
            raise HTTPException(404, "no such item")
        body = item.text.encode("utf-8", "surrogateescape")
        headers = {"content-disposition": f'attachment; filename="item-{item.id[:32]}.txt"'}
        return Response(body, media_type="application/octet-stream", headers=headers)

    @app.get("/queue")
    async def queue_page(request: Request, page: int = 0) -> Any:
        ledger = state.ledger.state()
        ids = state.cache.queue[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        rows = [(state.cache.items[i], ledger.decisions.get(i)) for i in ids if i in state.cache.items]
        more = (page + 1) * PAGE_SIZE < len(state.cache.queue)
        return _render(env, "queue.html", request, state, rows=rows, page=page, more=more, size=PAGE_SIZE)

    @app.get("/history")
    async def history_page(request: Request, page: int = 0) -> Any:
        ledger = state.ledger.state()
        entries = list(reversed(ledger.entries))[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        more = (page + 1) * PAGE_SIZE < len(ledger.entries)
        return _render(env, "history.html", request, state, entries=entries, undone=ledger.undone, page=page, more=more)


def _item_context(state: _State, item: ReviewItem) -> dict[str, Any]:
    ledger = state.ledger.state()
    segments, shown, total = inert_segments(item.text, state.settings.page_chars)
    neighbours = []
    for n in item.neighbours:
        other = state.cache.items.get(n["id"])
        if other is not None:
            neighbours.append({"item": other, "similarity": n["similarity"]})
    models = []
    for role, info in (state.cache.meta.get("models") or {}).items():
        if role in item.scores:
            models.append({"role": role, "info": info, "score": item.scores[role], "label": item.predicted.get(role)})
    decision = ledger.decisions.get(item.id)
    return {
        "item": item,
        "segments": segments,
        "shown": shown,
        "total": total,
        "models": models,
        "neighbours": neighbours,
        "decision": decision,
        "history": list(reversed(ledger.history(item.id))),
        "undone": ledger.undone,
        "skipped_by": sorted(ledger.skipped.get(item.id, set())),
        "next_id": state.next_item(after=item.id) or "",
        "prev_id": state.neighbour(item.id, -1) or "",
        "forward_id": state.neighbour(item.id, +1) or "",
        "keys": _keys(state.cache),
    }


def _keys(cache: ReviewCache) -> list[dict[str, str]]:
    """The decision buttons and their keys: 1-9 in class order, plus ``m``/``b`` for the alert/all-clear."""
    out = []
    positive, negative = cache.meta.get("positive"), cache.meta.get("negative")
    for i, c in enumerate(cache.classes):
        keys = [str(i + 1)] if i < 9 else []
        if c == positive:
            keys.insert(0, "m")
        elif c == negative:
            keys.insert(0, "b")
        out.append({"label": c, "shortcuts": " ".join(keys)})
    return out


# ------------------------------------------------------------------------------------------ api


def _entry_json(e: LedgerEntry) -> dict[str, Any]:
    return {"id": e.id, "item": e.item, "action": e.action, "old": e.old, "new": e.new, "who": e.who, "at": e.at}


def _api(app: Any, state: _State) -> None:
    from fastapi import HTTPException
    from fastapi.responses import JSONResponse

    @app.get("/api/state")
    async def api_state() -> dict[str, Any]:
        ledger = state.ledger.state()
        return {
            "queue": len(state.cache.queue),
            "decided": sum(1 for i in state.cache.queue if i in ledger.decisions),
            "decisions": len(ledger.decisions),
            "ledger_lines": len(ledger.entries),
        }

    @app.post("/api/decision")
    async def decision(body: DecisionIn) -> Any:
        item = state.cache.items.get(body.item)
        if item is None:
            raise HTTPException(404, "no such item in this run's review queue")
        if body.action == "label" and body.label not in state.cache.classes:
            raise HTTPException(422, f"label must be one of the run's classes: {state.cache.classes}")
        try:
            who = state.who(body.who)
            entry = state.ledger.append(
                body.action,
                item.id,
                who=who,
                new=body.label if body.action == "label" else None,
                note=body.note,
                split=item.split,
                expect=body.expect,
            )
        except LedgerConflict as exc:
            current = exc.current
            detail = {"detail": str(exc), "current": current.__dict__ if current else None}
            return JSONResponse(detail, status_code=409)
        except DistilsecError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"entry": _entry_json(entry), "next": state.next_item(after=item.id, who=who)}

    @app.post("/api/undo")
    async def undo(body: UndoIn) -> Any:
        try:
            who = state.who(body.who)
            target = body.entry
            if target is None:
                last = state.ledger.state().last_undoable(who)
                if last is None:
                    raise HTTPException(404, f"{who} has no decision left to undo")
                target = last.id
            entry = state.ledger.undo(target, who=who)
        except LedgerConflict as exc:
            return JSONResponse({"detail": str(exc)}, status_code=409)
        except DistilsecError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"entry": _entry_json(entry), "item": entry.item}


def _static(app: Any) -> None:
    from fastapi import HTTPException
    from fastapi.responses import Response

    files = {"review.js": "text/javascript", "review.css": "text/css"}

    @app.get("/static/{name}")
    async def static(name: str) -> Any:
        if name not in files:
            raise HTTPException(404, "not found")
        return Response((HERE / "static" / name).read_bytes(), media_type=f"{files[name]}; charset=utf-8")
