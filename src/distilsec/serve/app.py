"""The HTTP API: ``POST /v1/score``, ``GET /v1/models``, ``GET /healthz``, OpenAPI at ``/openapi.json``.

Every model is a :class:`~distilsec.scoring.ScoringModel`, the object ``distilsec score`` uses, so the
API returns exactly the scores and labels of the command line for the same bundle and runtime. Limits:
request bodies over ``max_request_bytes`` get 413, requests not answered within ``timeout_s`` get 504,
a full queue gets 503, malformed or invalid bodies get 400/422 with a message naming the problem.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from distilsec.errors import DistilsecError
from distilsec.serve.batcher import MicroBatcher, Overloaded
from distilsec.serve.limits import BodySizeLimit
from distilsec.serve.schemas import Health, ModelInfo, ScoreRequest, ScoreResponse

__all__ = ["ServeSettings", "create_app", "app_from_env", "parse_model_specs", "ENV_SETTINGS"]

ENV_SETTINGS = "DISTILSEC_SERVE_SETTINGS"


class ServeSettings(BaseModel):
    """Everything ``create_app`` needs; JSON-serialisable so uvicorn worker processes can rebuild it."""

    model_config = ConfigDict(extra="forbid")

    models: dict[str, str] = Field(description="name -> bundle folder; the first one is the default")
    runtime: str = "auto"
    threads: int = 1
    max_batch: int = 256
    max_wait_ms: float = 0.0
    max_queue: int = 8192
    max_request_bytes: int = 1 << 20
    timeout_s: float = 5.0


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
    from fastapi import FastAPI, HTTPException
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from distilsec.scoring import ScoringModel

    if not settings.models:
        raise DistilsecError("serve needs at least one model bundle")
    scorers = {
        name: ScoringModel(path, runtime=settings.runtime, threads=settings.threads)
        for name, path in settings.models.items()
    }
    batchers = {
        name: MicroBatcher(
            s.score_batch, max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms, max_queue=settings.max_queue
        )
        for name, s in scorers.items()
    }
    default = next(iter(scorers))

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        for b in batchers.values():
            await b.start()
        yield
        for b in batchers.values():
            await b.stop()

    app = FastAPI(
        title="distilsec",
        summary="Small local security models: score URLs, command lines and other events.",
        version="1",
        lifespan=lifespan,
    )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Any, exc: RequestValidationError) -> JSONResponse:
        # Only type, location and message: echoing the input back could be huge, and a non-finite
        # number in it (``Infinity`` parses as JSON in Python) cannot even be encoded into a response.
        errors = [{"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "models": list(scorers)}

    @app.get("/v1/models", response_model=list[ModelInfo])
    async def models() -> list[dict[str, Any]]:
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
            for name, s in scorers.items()
        ]

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        response_model_exclude_none=True,
        responses={
            404: {"description": "unknown model"},
            413: {"description": "request body too large"},
            503: {"description": "overloaded"},
            504: {"description": "timed out"},
        },
    )
    async def score(req: ScoreRequest) -> dict[str, Any]:
        name = req.model or default
        if name not in scorers:
            raise HTTPException(404, f"unknown model {name!r}; served: {sorted(scorers)}")
        texts = [req.text] if req.text is not None else list(req.texts or [])
        if not texts:
            return {"model": name, "runtime": scorers[name].runtime, "results": []}
        try:
            scores, labels, proba = await asyncio.wait_for(batchers[name].submit(texts), settings.timeout_s)
        except Overloaded as exc:
            raise HTTPException(503, f"overloaded: {exc}; retry later") from None
        except TimeoutError:
            raise HTTPException(504, f"not scored within {settings.timeout_s:g} s") from None
        classes = scorers[name].classes
        results = []
        for i in range(len(texts)):
            r: dict[str, Any] = {"score": round(float(scores[i]), 6), "label": labels[i]}
            if req.proba:
                r["proba"] = {c: round(float(p), 6) for c, p in zip(classes, proba[i], strict=True)}
            results.append(r)
        out: dict[str, Any] = {"model": name, "runtime": scorers[name].runtime, "results": results}
        if req.text is not None:
            out["score"], out["label"] = results[0]["score"], results[0]["label"]
        return out

    app.state.batchers = batchers
    app.state.scorers = scorers
    return BodySizeLimit(app, settings.max_request_bytes) if settings.max_request_bytes else app


def app_from_env() -> Any:
    """uvicorn factory for ``--workers N``: each worker process rebuilds the app from the environment."""
    raw = os.environ.get(ENV_SETTINGS)
    if not raw:
        raise DistilsecError(f"{ENV_SETTINGS} is not set")
    return create_app(ServeSettings(**json.loads(raw)))
