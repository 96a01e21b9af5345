"""``distilsec serve``: one or more model bundles behind an HTTP API (FastAPI + uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging

__all__ = ["serve"]


def serve(
    models: Annotated[list[str], typer.Argument(help="Bundle folders, optionally NAME=FOLDER; the first is default.")],
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1 = this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (each loads every model).")] = 1,
    runtime: Annotated[str, typer.Option(help="auto, native/torch, onnx or onnx-int8.")] = "auto",
    threads: Annotated[int, typer.Option(help="Model threads per process.")] = 1,
    max_batch: Annotated[int, typer.Option(help="Most texts scored in one micro-batch.")] = 256,
    max_wait_ms: Annotated[float, typer.Option(help="Wait this long for a micro-batch to fill (0 = never).")] = 0.0,
    max_request_bytes: Annotated[int, typer.Option(help="Larger request bodies get 413.")] = 1 << 20,
    timeout_s: Annotated[float, typer.Option(help="Requests not scored in time get 504.")] = 5.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve /v1/score, /v1/models, /healthz and the OpenAPI schema (/docs) over HTTP."""
    setup_logging(verbose)

    def go() -> None:
        import json
        import os

        import uvicorn

        from distilsec.serve.app import ENV_SETTINGS, ServeSettings, create_app, parse_model_specs

        settings = ServeSettings(
            models=parse_model_specs(models), runtime=runtime, threads=threads, max_batch=max_batch,
            max_wait_ms=max_wait_ms, max_request_bytes=max_request_bytes, timeout_s=timeout_s,
        )  # fmt: skip
        app = create_app(settings)  # load every bundle now: a bad one fails here, with a clear message
        console.print(f"serving {', '.join(settings.models)} on http://{host}:{port} (docs: /docs)")
        level = "info" if verbose else "warning"
        if workers > 1:
            os.environ[ENV_SETTINGS] = json.dumps(settings.model_dump())
            uvicorn.run("distilsec.serve.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                        log_level=level)  # fmt: skip
        else:
            uvicorn.run(app, host=host, port=port, log_level=level)

    friendly_errors(go)
