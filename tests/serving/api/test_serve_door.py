"""``distilsec serve`` under stress: load shed at the door before bodies are read, slow clients closed,
checked address, offline docs. Real servers here listen on 127.0.0.1 only; every wait is bounded."""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the 'serve' extra (fastapi, uvicorn) is not installed")

import uvicorn  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from distilsec.errors import DistilsecError  # noqa: E402
from distilsec.serving.api import ServeSettings, create_app  # noqa: E402
from distilsec.serving.api.app import make_settings  # noqa: E402
from distilsec.serving.api.batcher import MicroBatcher  # noqa: E402
from distilsec.serving.api.limits import Door  # noqa: E402
from distilsec.serving.api.server import HeaderDeadlineProtocol, check_address  # noqa: E402

HOST = "127.0.0.1"
GENEROUS_S = 30.0  # bounds on waits: far above the timeouts under test, so a busy machine cannot fail them


# --- the door, as plain ASGI -------------------------------------------------------------------------


def _scope(length: int | None, method: str = "POST", chunked: bool = False) -> dict[str, Any]:
    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    if chunked:
        headers.append((b"transfer-encoding", b"chunked"))
    return {"type": "http", "method": method, "path": "/v1/score", "headers": headers, "client": (HOST, 1)}


def _body(n: int):
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"x" * n, "more_body": False}

    return receive


async def _never_read() -> dict[str, Any]:
    raise AssertionError("the door read the body of a request it refused")


class _Sink:
    """Collects what the door sends."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return self.messages[0]["status"]

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])


class _HeldApp:
    """An app that reads its body, then answers only when released: work in flight, on demand."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("method") == "POST":
            await receive()
            self.entered.set()
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        self.started.set()
        await send({"type": "http.response.body", "body": b"ok"})


def test_request_arriving_when_the_door_is_full_gets_503_before_its_body_is_read():
    async def go() -> None:
        app = _HeldApp()
        door = Door(app, max_request_bytes=1000, max_inflight_bytes=1000, max_inflight_requests=10, admission_wait_s=0)
        first = asyncio.ensure_future(door(_scope(800), _body(800), _Sink()))
        await asyncio.wait_for(app.entered.wait(), GENEROUS_S)
        refused = _Sink()
        await door(_scope(300), _never_read, refused)  # 800 + 300 > 1000: refused by its headers alone
        assert refused.status == 503 and refused.headers[b"retry-after"] == b"1"
        assert b"capacity" in refused.messages[1]["body"]
        assert door.stats.refused_busy == 1 and door.stats.inflight_bytes == 800
        fits = asyncio.ensure_future(door(_scope(200), _body(200), _Sink()))  # 800 + 200 fits
        await asyncio.sleep(0)
        app.release.set()
        await asyncio.wait_for(asyncio.gather(first, fits), GENEROUS_S)
        assert door.stats.inflight_bytes == 0 and door.stats.inflight_requests == 0 and door.stats.admitted == 2

    asyncio.run(go())


def test_door_limits_requests_in_flight_and_charges_chunked_bodies_the_request_limit():
    async def go() -> None:
        app = _HeldApp()
        door = Door(app, max_request_bytes=500, max_inflight_bytes=10_000, max_inflight_requests=1, admission_wait_s=0)
        first = asyncio.ensure_future(door(_scope(None, chunked=True), _body(10), _Sink()))
        await asyncio.wait_for(app.entered.wait(), GENEROUS_S)
        assert door.stats.inflight_bytes == 500  # unknown length: charged the most it may be
        refused = _Sink()
        await door(_scope(10), _never_read, refused)  # one request in flight is the limit
        assert refused.status == 503
        app.release.set()
        await asyncio.wait_for(first, GENEROUS_S)

    asyncio.run(go())


def test_request_finding_no_room_waits_unread_in_line_then_is_admitted_or_refused():
    async def go() -> None:
        app = _HeldApp()
        door = Door(app, max_request_bytes=1000, max_inflight_bytes=1000, admission_wait_s=GENEROUS_S)
        first = asyncio.ensure_future(door(_scope(900), _body(900), _Sink()))
        await asyncio.wait_for(app.entered.wait(), GENEROUS_S)
        waited = _Sink()
        second = asyncio.ensure_future(door(_scope(900), _body(900), waited))
        await asyncio.sleep(0.01)
        assert door.stats.waiting == 1 and not waited.messages  # in line, body unread
        app.release.set()  # the first one answers: the second one gets its room
        await asyncio.wait_for(asyncio.gather(first, second), GENEROUS_S)
        assert waited.status == 200 and door.stats.admitted_after_wait == 1 and door.stats.refused_busy == 0

        held = _HeldApp()
        short = Door(held, max_request_bytes=1000, max_inflight_bytes=1000, admission_wait_s=0.05)
        blocker = asyncio.ensure_future(short(_scope(900), _body(900), _Sink()))
        await asyncio.wait_for(held.entered.wait(), GENEROUS_S)
        refused = _Sink()
        await asyncio.wait_for(short(_scope(900), _never_read, refused), GENEROUS_S)  # no room within 0.05 s
        assert refused.status == 503 and short.stats.waiting == 0 and short.stats.inflight_requests == 1
        held.release.set()
        await asyncio.wait_for(blocker, GENEROUS_S)

    asyncio.run(go())


def test_one_request_is_admitted_when_nothing_is_in_flight_even_over_the_byte_budget():
    async def go() -> None:
        app = _HeldApp()
        app.release.set()
        door = Door(app, max_request_bytes=5000, max_inflight_bytes=100)
        sink = _Sink()
        await door(_scope(4000), _body(4000), sink)
        assert sink.status == 200

    asyncio.run(go())


def test_negative_or_garbled_content_length_is_refused_and_does_not_lower_the_bytes_in_flight():
    async def go() -> None:
        door = Door(_HeldApp())
        for bad in (b"-5000", b"12x"):
            sink = _Sink()
            scope = _scope(None)
            scope["headers"].append((b"content-length", bad))
            await door(scope, _never_read, sink)
            assert sink.status == 400
        assert door.stats.inflight_bytes == 0 and door.stats.admitted == 0

    asyncio.run(go())


def test_requests_without_a_body_pass_a_full_door():
    async def go() -> None:
        app = _HeldApp()
        door = Door(app, max_request_bytes=1000, max_inflight_bytes=1000, max_inflight_requests=1)
        first = asyncio.ensure_future(door(_scope(900), _body(900), _Sink()))
        await asyncio.wait_for(app.entered.wait(), GENEROUS_S)
        health = _Sink()
        await door(_scope(None, method="GET"), _never_read, health)  # health checks answer under load
        assert health.status == 200
        app.release.set()
        await asyncio.wait_for(first, GENEROUS_S)

    asyncio.run(go())


def test_a_request_leaves_the_door_when_its_response_starts_so_slow_readers_keep_no_one_out():
    async def go() -> None:
        gate = asyncio.Event()

        async def slow_reader_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                await gate.wait()  # the client reads its answer slowly

        app = _HeldApp()
        app.release.set()
        door = Door(app, max_request_bytes=1000, max_inflight_bytes=1000)
        first = asyncio.ensure_future(door(_scope(900), _body(900), slow_reader_send))
        await asyncio.wait_for(app.started.wait(), GENEROUS_S)
        assert door.stats.inflight_requests == 0
        second = _Sink()
        await door(_scope(900), _body(900), second)
        assert second.status == 200
        gate.set()
        await asyncio.wait_for(first, GENEROUS_S)

    asyncio.run(go())


def test_body_not_sent_in_time_gets_408_and_the_connection_closed():
    async def go() -> None:
        async def stalled() -> dict[str, Any]:
            await asyncio.sleep(GENEROUS_S)
            raise AssertionError("the door waited for the body past its deadline")

        door = Door(_echo, body_timeout_s=0.05)
        sink = _Sink()
        await asyncio.wait_for(door(_scope(100), stalled, sink), GENEROUS_S)
        assert sink.status == 408 and sink.headers[b"connection"] == b"close"
        assert len(sink.messages) == 2 and door.stats.body_timeouts == 1 and door.stats.inflight_bytes == 0

    asyncio.run(go())


# --- the batcher's deadline -------------------------------------------------------------------------


def test_request_still_queued_at_its_deadline_gets_timeout_and_is_never_scored():
    scored: list[list[str]] = []
    started, release = threading.Event(), threading.Event()

    def held(texts: list[str]) -> Any:
        scored.append(list(texts))
        started.set()
        release.wait(GENEROUS_S)
        return np.zeros(len(texts)), ["x"] * len(texts), np.zeros((len(texts), 2))

    async def go() -> None:
        b = MicroBatcher(held)
        await b.start()
        first = asyncio.ensure_future(b.submit(["a"], timeout_s=0.05))  # taken at once: finished, though late
        assert await asyncio.to_thread(started.wait, GENEROUS_S)
        with pytest.raises(TimeoutError):
            await b.submit(["late"], timeout_s=0.01)  # still queued behind "a" at its deadline
        release.set()
        assert (await asyncio.wait_for(first, GENEROUS_S))[1] == ["x"]
        await b.stop()

    asyncio.run(go())
    assert scored == [["a"]]  # the late request cost no scoring


# --- a real server on 127.0.0.1 ----------------------------------------------------------------------


@contextmanager
def _running(app: Any, client_timeout_s: float) -> Iterator[int]:
    """``app`` under uvicorn with the header deadline, on a free loopback port, in a thread."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    protocol = functools.partial(HeaderDeadlineProtocol, header_timeout_s=client_timeout_s)
    server = uvicorn.Server(uvicorn.Config(app, http=protocol, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(600):  # at most 30 s
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "test server did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(GENEROUS_S)
        sock.close()


def _closed_by_server(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes; fails if it has not closed after GENEROUS_S."""
    conn.settimeout(GENEROUS_S)
    got = b""
    while chunk := conn.recv(65536):  # a socket.timeout here = the server never closed the connection
        got += chunk
    return got


def _response(conn: socket.socket) -> bytes:
    """One whole answer of ``_echo`` (its body is ``ok``)."""
    conn.settimeout(GENEROUS_S)
    got = b""
    while not got.endswith(b"ok"):
        chunk = conn.recv(65536)
        assert chunk, f"connection closed after {got!r}"
        got += chunk
    return got


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_slow_clients_are_disconnected_within_the_timeout():
    request = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789"
    with _running(Door(_echo, body_timeout_s=0.5), client_timeout_s=0.5) as port:
        silent = socket.create_connection((HOST, port))  # connects, sends nothing
        dripping = socket.create_connection((HOST, port))
        dripping.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\n")  # headers never completed
        slow_body = socket.create_connection((HOST, port))
        slow_body.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{")  # body never completed
        keep_alive = socket.create_connection((HOST, port))
        keep_alive.sendall(request)
        assert _response(keep_alive).startswith(b"HTTP/1.1 200")
        keep_alive.sendall(b"POST /x HTTP/1.1\r\n")  # the next request on the connection: its headers stall
        for conn in (silent, dripping, keep_alive):
            assert _closed_by_server(conn) == b""
        assert _closed_by_server(slow_body).startswith(b"HTTP/1.1 408")
        fine = socket.create_connection((HOST, port))  # the server still serves
        fine.sendall(request)
        assert _response(fine).startswith(b"HTTP/1.1 200")
        for conn in (silent, dripping, slow_body, keep_alive, fine):
            conn.close()


def test_overloaded_server_answers_503_with_retry_after_before_the_body_is_sent(exported):
    settings = ServeSettings(models={"cnn": str(exported["char_cnn"])}, max_inflight_bytes=1000, admission_wait_s=0.1)
    app = create_app(settings)
    batcher = app.app.state.batchers["cnn"]
    real, release = batcher.fn, threading.Event()

    def held(texts: list[str]) -> Any:
        release.wait(GENEROUS_S)
        return real(texts)

    batcher.fn = held
    body = b'{"texts": ["ls -la", "whoami"]}'
    with _running(app, client_timeout_s=GENEROUS_S) as port:
        busy = http.client.HTTPConnection(HOST, port, timeout=GENEROUS_S)
        busy.request("POST", "/v1/score", body=body, headers={"content-type": "application/json"})
        for _ in range(600):  # wait until it is in flight (at most 30 s)
            if app.stats.inflight_requests:
                break
            time.sleep(0.05)
        late = socket.create_connection((HOST, port), timeout=GENEROUS_S)
        head = b"POST /v1/score HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 990\r\n\r\n"
        late.sendall(head)
        answer = late.recv(65536)  # no body byte was sent: the answer comes from the headers alone
        assert answer.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in answer.lower()
        release.set()
        response = busy.getresponse()
        assert response.status == 200 and len(json.loads(response.read())["results"]) == 2
        late.close()
        busy.close()


# --- address, options, docs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "1 to 65535"),
        (["--port", "0"], "1 to 65535"),
        (["--host", "no-such-host.invalid"], "not an address or a known host name"),
        (["--max-batch", "0"], "--max-batch 0"),
        (["--client-timeout-s", "-1"], "--client-timeout-s -1"),
        (["--workers", "0"], "--workers 0"),
    ],
)
def test_bad_port_host_or_option_is_one_clear_error_before_anything_is_announced(exported, args, message):
    from distilsec.cli.app import app as cli

    with socket.socket() as s:  # a free port, so that only the option under test can be wrong
        s.bind((HOST, 0))
        port = str(s.getsockname()[1])
    result = CliRunner().invoke(cli, ["serve", str(exported["hashed_linear"]), "--port", port, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "serving" not in result.output and "Traceback" not in result.output


def test_port_in_use_is_named():
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DistilsecError, match=f"port {port} on {HOST} is already in use"):
            check_address(HOST, port)


def test_bad_serve_settings_name_their_option():
    with pytest.raises(DistilsecError, match="--max-inflight-bytes 0"):
        make_settings(models={"a": "b"}, max_inflight_bytes=0)


def test_docs_load_their_assets_from_this_server(exported):
    with TestClient(create_app(ServeSettings(models={"cnn": str(exported["char_cnn"])}))) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            assert not re.search(r"https?://", html), f"{page} names an external host"
            assets = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
            for asset in assets:
                r = client.get(asset)
                assert r.status_code == 200 and len(r.content) > 500, asset
        assert client.get("/openapi.json").status_code == 200
