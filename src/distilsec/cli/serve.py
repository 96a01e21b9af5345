"""``distilsec serve``: one or more model bundles behind an HTTP API (FastAPI + uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging

__all__ = ["serve"]


def serve(
    models: Annotated[list[str], typer.Argument(help="Bundle folders, optionally NAME=FOLDER; the first is default.")],
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1 = this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (1-65535).")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (each loads every model).")] = 1,
    runtime: Annotated[str, typer.Option(help="auto, native/torch, onnx or onnx-int8.")] = "auto",
    threads: Annotated[int, typer.Option(help="Model threads per process.")] = 1,
    max_batch: Annotated[int, typer.Option(help="Most texts scored in one micro-batch.")] = 256,
    max_wait_ms: Annotated[float, typer.Option(help="Wait this long for a micro-batch to fill (0 = never).")] = 0.0,
    max_request_bytes: Annotated[int, typer.Option(help="Larger request bodies get 413.")] = 1 << 20,
    max_inflight_bytes: Annotated[
        int, typer.Option(help="Request bytes admitted at once per process; more wait, unread, then get 503.")
    ] = 512 << 10,
    max_inflight_requests: Annotated[int, typer.Option(help="Requests admitted at once per process.")] = 256,
    admission_wait_s: Annotated[
        float, typer.Option(help="How long a request that finds no room waits for some before 503 + Retry-After.")
    ] = 1.0,
    timeout_s: Annotated[float, typer.Option(help="Requests still waiting to be scored after this get 504.")] = 5.0,
    client_timeout_s: Annotated[
        float, typer.Option(help="Seconds a client has to send its request headers, and then its body.")
    ] = 10.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve /v1/score, /v1/models, /healthz and the OpenAPI schema (/docs) over HTTP; /v1/attack for ATT&CK taggers."""
    setup_logging(verbose)

    def go() -> None:
        from distilsec.errors import DistilsecError
        from distilsec.serving.api.app import create_app, make_settings, parse_model_specs
        from distilsec.serving.api.server import check_address, run_server, url

        if workers < 1:
            raise DistilsecError(f"--workers {workers}: use 1 or more server processes")
        check_address(host, port)  # before loading models: a wrong port costs a second, not a minute
        settings = make_settings(
            models=parse_model_specs(models), runtime=runtime, threads=threads, max_batch=max_batch,
            max_wait_ms=max_wait_ms, max_request_bytes=max_request_bytes, max_inflight_bytes=max_inflight_bytes,
            max_inflight_requests=max_inflight_requests, admission_wait_s=admission_wait_s, timeout_s=timeout_s,
            client_timeout_s=client_timeout_s,
        )  # fmt: skip
        app = create_app(settings)  # load every bundle now: a bad one fails here, with a clear message
        console.print(f"serving {', '.join(settings.models)} on {url(host, port)} (docs: /docs)")
        run_server(settings, app, host=host, port=port, workers=workers, log_level="info" if verbose else "warning")

    friendly_errors(go)
