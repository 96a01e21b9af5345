"""The HTTP API: ``POST /v1/score``, ``GET /v1/models``, ``GET /healthz``, OpenAPI at ``/openapi.json``; and
``POST /v1/attack`` when an ATT&CK tagger is served.

Every model is a :class:`~distilsec.serving.model.ScoringModel`, the object ``distilsec score`` uses, so the
API returns exactly the scores and labels of the command line for the same bundle and runtime.

Limits, most of them enforced by the :class:`~distilsec.serving.api.limits.Door` before a body is read:
bodies over ``max_request_bytes`` get 413; requests beyond the work in flight (``max_inflight_bytes``,
``max_inflight_requests``) wait up to ``admission_wait_s``, then get 503 with ``Retry-After``; bodies
not sent within ``client_timeout_s`` get 408; requests whose scoring has not started within
``timeout_s`` get 504 (a started batch is finished); malformed or invalid bodies get 400/422 with a
message naming the problem.

``/docs`` (Swagger UI) and ``/redoc`` load their scripts from files installed with the ``serve`` extra
(``fastapi-offline``), not from a CDN: they work on a machine without internet access.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from distilsec.errors import DistilsecError
from distilsec.serving.api.batcher import MicroBatcher, Overloaded
from distilsec.serving.api.limits import Door
from distilsec.serving.api.schemas import (
    MAX_TEXTS,
    AttackRequest,
    AttackResponse,
    Health,
    ModelInfo,
    ScoreRequest,
    ScoreResponse,
)

if TYPE_CHECKING:  # fastapi comes with the 'serve' extra and the model stack loads on demand: both imported lazily
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from distilsec.serving.model import ScoringModel

__all__ = ["ServeSettings", "create_app", "app_from_env", "parse_model_specs", "make_settings", "ENV_SETTINGS"]

log = logging.getLogger(__name__)

ENV_SETTINGS = "DISTILSEC_SERVE_SETTINGS"


class ServeSettings(BaseModel):
    """Everything ``create_app`` needs; JSON-serialisable so uvicorn worker processes can rebuild it."""

    model_config = ConfigDict(extra="forbid")

    models: dict[str, str] = Field(description="name -> bundle folder; the first one is the default")
    runtime: str = "auto"
    threads: int = Field(1, ge=1)
    max_batch: int = Field(256, ge=1)
    max_wait_ms: float = Field(0.0, ge=0, allow_inf_nan=False)
    max_request_bytes: int = Field(1 << 20, ge=1)
    # Work admitted at once: enough for one batch to be scored while the next is parsed (two 4,096-text
    # requests of command lines; thousands of one-event requests). More adds only waiting, and waiting past
    # timeout_s is wasted: a slow model may need less. A larger request is admitted when nothing is in flight.
    max_inflight_bytes: int = Field(512 << 10, ge=1)
    max_inflight_requests: int = Field(256, ge=1)
    admission_wait_s: float = Field(1.0, ge=0, allow_inf_nan=False)
    timeout_s: float = Field(5.0, gt=0, allow_inf_nan=False)
    client_timeout_s: float = Field(10.0, gt=0, allow_inf_nan=False)


#: ServeSettings field -> the ``distilsec serve`` option that sets it (for error messages).
OPTION = {name: "--" + name.replace("_", "-") for name in ServeSettings.model_fields}


def make_settings(**values: Any) -> ServeSettings:
    """:class:`ServeSettings` from command-line values; a bad value is one line naming its option."""
    try:
        return ServeSettings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        value = values.get(field)
        raise DistilsecError(f"{OPTION.get(field, field)} {value}: {err['msg'].lower()}") from None


def parse_model_specs(specs: list[str]) -> dict[str, str]:
    """``["runs/x/student", "url=runs/u/student"]`` -> ``{"student": ..., "url": ...}`` (names unique)."""
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).name, spec
        if not name or name in out:
            raise DistilsecError(f"model name {name!r} is empty or given twice; use NAME=PATH to name bundles")
        out[name] = path
    return out


def create_app(settings: ServeSettings) -> Any:
    """A FastAPI app serving ``settings.models``; every bundle is loaded here, so errors surface at start."""
    from fastapi.exceptions import RequestValidationError

    served = _load_models(settings)
    app = _fastapi(
        title="distilsec",
        summary="Small local security models: score URLs, command lines and other events.",
        version="1",
        lifespan=_lifespan(served.batchers),
    )
    app.add_exception_handler(RequestValidationError, _invalid_request)
    _add_routes(app, served)
    app.state.batchers = served.batchers
    app.state.scorers = served.scorers
    return Door(
        app,
        max_request_bytes=settings.max_request_bytes,
        max_inflight_bytes=settings.max_inflight_bytes,
        max_inflight_requests=settings.max_inflight_requests,
        admission_wait_s=settings.admission_wait_s,
        body_timeout_s=settings.client_timeout_s,
    )


@dataclass(frozen=True)
class _Served:
    """What the routes share: the loaded models, their batchers, the default model and the settings."""

    settings: ServeSettings
    scorers: dict[str, ScoringModel]
    batchers: dict[str, MicroBatcher]
    default: str


def _load_models(settings: ServeSettings) -> _Served:
    """Load every bundle and give each its micro-batcher; a missing or broken bundle fails here, at start."""
    from distilsec.serving.model import ScoringModel

    if not settings.models:
        raise DistilsecError("serve needs at least one model bundle")
    scorers = {
        name: ScoringModel(path, runtime=settings.runtime, threads=settings.threads)
        for name, path in settings.models.items()
    }
    # The door bounds the work admitted; the batcher's own cap only backs it up, sized so that admitted
    # work is never refused after it was read and parsed.
    max_queue = settings.max_inflight_requests * MAX_TEXTS
    batchers = {
        name: MicroBatcher(
            s.score_batch, max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms, max_queue=max_queue
        )
        for name, s in scorers.items()
    }
    return _Served(settings, scorers, batchers, default=next(iter(scorers)))


def _lifespan(batchers: dict[str, MicroBatcher]) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the batchers' worker tasks run on the server's event loop, from start to shutdown."""

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        for b in batchers.values():
            await b.start()
        yield
        for b in batchers.values():
            await b.stop()

    return lifespan


async def _invalid_request(_: Any, exc: RequestValidationError) -> JSONResponse:
    """422 with only type, location and message of each error.

    Echoing the input back could be huge, and a non-finite number in it (``Infinity`` parses as JSON in
    Python) cannot even be encoded into a response.
    """
    from fastapi.responses import JSONResponse

    errors = [{"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


#: The error statuses of ``POST /v1/score``, as the OpenAPI schema documents them.
_SCORE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown model"},
    408: {"description": "request body not received in time"},
    413: {"description": "request body too large"},
    503: {"description": "at capacity: retry after the Retry-After header's seconds"},
    504: {"description": "scoring did not start within timeout_s"},
}

#: ... and of ``POST /v1/attack``, which also answers 400 when the named model is no ATT&CK tagger.
_ATTACK_RESPONSES: dict[int | str, dict[str, Any]] = {400: {"description": "not an ATT&CK tagger"}, **_SCORE_RESPONSES}


def _add_routes(app: Any, served: _Served) -> None:
    """Register the three routes as thin endpoints over the module-level functions below.

    The endpoints keep their names and have no docstring: FastAPI derives the OpenAPI operation ids and
    summaries from the names and would publish a docstring as the operation's description.
    """

    @app.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, Any]:
        return _health(served)

    @app.get("/v1/models", response_model=list[ModelInfo])
    async def models() -> list[dict[str, Any]]:
        return _model_infos(served)

    @app.post("/v1/score", response_model=ScoreResponse, response_model_exclude_none=True, responses=_SCORE_RESPONSES)
    async def score(req: ScoreRequest) -> dict[str, Any]:
        return await _score(served, req)

    if not _taggers(served):  # /v1/attack exists only where an ATT&CK tagger is loaded
        return

    @app.post(
        "/v1/attack", response_model=AttackResponse, response_model_exclude_unset=True, responses=_ATTACK_RESPONSES
    )  # unset, not None: a blank sentence's "top" is null, as in `distilsec attack --per-line --json`
    async def attack(req: AttackRequest) -> dict[str, Any]:
        return await _attack(served, req)


def _health(served: _Served) -> dict[str, Any]:
    """``GET /healthz``: the server is up and these models are loaded."""
    return {"status": "ok", "models": list(served.scorers)}


def _model_infos(served: _Served) -> list[dict[str, Any]]:
    """``GET /v1/models``: what each served model is, so a client can check it talks to the right one."""
    return [
        {
            "name": name,
            "type": s.manifest["type"],
            "runtime": s.runtime,
            "classes": s.classes,
            "threshold": s.threshold,
            "preprocess": s.manifest.get("preprocess", "none"),
            "task": s.manifest.get("task"),
            "max_text_chars": s.max_chars,
        }
        for name, s in served.scorers.items()
    ]


async def _score(served: _Served, req: ScoreRequest) -> dict[str, Any]:
    """``POST /v1/score``: one text or a list, scored by the named (or default) model through its batcher."""
    from fastapi import HTTPException

    name = req.model or served.default
    if name not in served.scorers:
        raise HTTPException(404, f"unknown model {name!r}; served: {sorted(served.scorers)}")
    runtime = served.scorers[name].runtime
    texts = [req.text] if req.text is not None else list(req.texts or [])
    if not texts:
        return {"model": name, "runtime": runtime, "results": []}
    timeout_s = served.settings.timeout_s
    try:
        scores, labels, proba = await served.batchers[name].submit(texts, timeout_s=timeout_s)
    except Overloaded as exc:
        raise HTTPException(503, f"overloaded: {exc}; retry later", headers={"Retry-After": "1"}) from None
    except TimeoutError:
        raise HTTPException(504, f"scoring did not start within {timeout_s:g} s; retry later") from None
    classes = served.scorers[name].classes
    results = [_result(scores[i], labels[i], proba[i] if req.proba else None, classes) for i in range(len(texts))]
    out: dict[str, Any] = {"model": name, "runtime": runtime, "results": results}
    if req.text is not None:
        out["score"], out["label"] = results[0]["score"], results[0]["label"]
    return out


def _taggers(served: _Served) -> list[str]:
    """Names of the served ATT&CK taggers (bundles of type attack_model.v1), in serving order."""
    return [name for name, s in served.scorers.items() if s.tagger is not None]


def _attack_sentences(req: AttackRequest) -> list[str]:
    """The request's sentences as ``distilsec attack`` would tag them: a report split, or the list cleaned."""
    from distilsec.serving.reports import MAX_SENTENCE_CHARS, cap_sentence, prepare_sentence, report_sentences

    if req.text is not None:
        return report_sentences(req.text, req.format)
    return [cap_sentence(prepare_sentence(s), MAX_SENTENCE_CHARS) if s.strip() else "" for s in req.sentences or []]


async def _attack(served: _Served, req: AttackRequest) -> dict[str, Any]:
    """``POST /v1/attack``: per-sentence techniques and the report-level aggregate, from an ATT&CK tagger.

    The sentences are scored through the model's micro-batcher (shared with ``/v1/score``: the same admission,
    queue bound and timeout), and tagged from the probabilities it returns, exactly as ``distilsec attack``
    tags them.
    """
    import asyncio

    from fastapi import HTTPException

    from distilsec.serving.tagging import TechniqueTally, sentence_record

    taggers = _taggers(served)
    name = req.model or taggers[0]
    if name not in served.scorers:
        raise HTTPException(404, f"unknown model {name!r}; served: {sorted(served.scorers)}")
    tagger = served.scorers[name].tagger
    if tagger is None:
        raise HTTPException(400, f"model {name!r} is not an ATT&CK tagger; taggers served: {taggers}")
    sentences = await asyncio.to_thread(_attack_sentences, req)  # splitting a 1 MB report takes a while
    present = [s for s in sentences if s]
    tags: list[dict[str, Any]] = []
    if present:
        timeout_s = served.settings.timeout_s
        try:
            _, _, proba = await served.batchers[name].submit(present, timeout_s=timeout_s)
        except Overloaded as exc:
            raise HTTPException(503, f"overloaded: {exc}; retry later", headers={"Retry-After": "1"}) from None
        except TimeoutError:
            raise HTTPException(504, f"scoring did not start within {timeout_s:g} s; retry later") from None
        tags = tagger.tag_proba(proba, top_k=req.top_k)
    tally = TechniqueTally(tagger.index.describe)
    out, it = [], iter(tags)
    for i, text in enumerate(sentences):
        if not text:
            out.append({"text": text, "top": None, "techniques": []})
            continue
        tag = next(it)
        tally.add(i, text, tag)
        out.append({"text": text, **sentence_record(tag, candidates=req.top_k is not None)})
    return {"model": name, "sentences": out, "techniques": tally.results()}


def _result(score: Any, label: str, proba: Any, classes: list[str]) -> dict[str, Any]:
    """One text's result; its class probabilities only when ``proba`` is given (the request asked for them)."""
    r: dict[str, Any] = {"score": round(float(score), 6), "label": label}
    if proba is not None:
        r["proba"] = {c: round(float(p), 6) for c, p in zip(classes, proba, strict=True)}
    return r


def _fastapi(**kwargs: Any) -> Any:
    """A FastAPI app whose /docs and /redoc load their scripts from this server, not from a CDN.

    FastAPI's default pages fetch Swagger UI and ReDoc from jsdelivr: blank on a machine without internet
    access, and a third party told of every visit. ``fastapi-offline`` follows FastAPI's "self-hosting
    JavaScript and CSS for docs" recipe with the files shipped in its wheel.
    """
    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:
        from fastapi import FastAPI

        log.warning("fastapi-offline is not installed: no /docs (pip install 'distilsec[serve]')")
        return FastAPI(docs_url=None, redoc_url=None, **kwargs)
    # validatorUrl None: Swagger UI would otherwise send the schema's URL to validator.swagger.io.
    return FastAPIOffline(swagger_ui_parameters={"validatorUrl": None}, **kwargs)


def app_from_env() -> Any:
    """uvicorn factory for ``--workers N``: each worker process rebuilds the app from the environment."""
    raw = os.environ.get(ENV_SETTINGS)
    if not raw:
        raise DistilsecError(f"{ENV_SETTINGS} is not set")
    return create_app(ServeSettings(**json.loads(raw)))
