"""Admission control at the door, as plain ASGI middleware: work is refused *before* its body is read.

Why here and not in the endpoint: a 4,096-text request costs little to reject by its headers and a lot to
read, parse and validate. Checking the queue only after that (as ``distilsec serve`` once did) spends the
CPU an overloaded server lacks on work it then throws away: 8 clients sending 4,096-text requests got 909
answers 503 and 4 answers 200. The :class:`Door` therefore decides from the request line and headers alone:

* a body larger than ``max_request_bytes`` gets 413 (by its Content-Length, or as soon as the streamed
  bytes pass the limit);
* a request with a body is admitted while the requests in flight and their declared Content-Length stay
  within ``max_inflight_requests`` and ``max_inflight_bytes`` (one request is always admitted when
  nothing is in flight, so a large request cannot starve). Otherwise it waits, its body unread, up to
  ``admission_wait_s`` in a first-come first-served line of at most ``max_inflight_requests`` requests,
  and is answered 503 with ``Retry-After`` if no room was made by then (or at once when the line is
  full), still without reading the body (a client that sent ``Expect: 100-continue`` never sends it).
  The short line turns a burst into a queue rather than failures, and it paces clients that retry at once
  after a 503: their rejections, each costing the server a little, come no faster than one per wait.
  A chunked body of unknown length is charged ``max_request_bytes``. Requests without a body
  (``/healthz``, ``/docs``) are never refused: health checks must answer under load;
* an admitted body must arrive within ``body_timeout_s``, or the client gets 408 and its connection is
  closed: a slow-loris client holds its share of the door for a bounded time only. (A deadline on the
  request *headers* needs the HTTP protocol itself: see :mod:`distilsec.serving.api.server`.)

A request leaves the door when its response starts: parsing and scoring are done by then, and a client that
reads its answer slowly must not keep others out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["Door", "DoorStats"]

log = logging.getLogger(__name__)

Scope = dict[str, Any]


async def _reply(send: Any, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


@dataclass
class DoorStats:
    """Counters of the door since start (per server process)."""

    admitted: int = 0
    admitted_after_wait: int = 0
    refused_busy: int = 0
    refused_too_large: int = 0
    body_timeouts: int = 0
    inflight_requests: int = 0
    inflight_bytes: int = 0
    waiting: int = 0


@dataclass(eq=False)
class _Waiter:
    cost: int
    future: asyncio.Future[bool]


class Door:
    """ASGI middleware: request-size limit, bounded work in flight (503 + Retry-After), body-read deadline.

    Parameters
    ----------
    app : the ASGI app behind the door.
    max_request_bytes : larger bodies get 413 (0 = no limit).
    max_inflight_bytes : most declared body bytes of admitted requests not yet answered.
    max_inflight_requests : most admitted requests (with a body) not yet answered; also the most waiting.
    admission_wait_s : how long a request that finds no room waits for some before 503 (0 = answer at once).
    body_timeout_s : seconds an admitted client has to send its whole body; then 408 and the connection closes.
    retry_after_s : the ``Retry-After`` a refused client is given (whole seconds, as HTTP wants).
    """

    def __init__(
        self,
        app: Any,
        *,
        max_request_bytes: int = 1 << 20,
        max_inflight_bytes: int = 1 << 20,
        max_inflight_requests: int = 256,
        admission_wait_s: float = 1.0,
        body_timeout_s: float = 10.0,
        retry_after_s: int = 1,
    ) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_inflight_bytes = max_inflight_bytes
        self.max_inflight_requests = max_inflight_requests
        self.admission_wait_s = admission_wait_s
        self.body_timeout_s = body_timeout_s
        self.retry_after_s = retry_after_s
        self.stats = DoorStats()
        self._line: deque[_Waiter] = deque()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, chunked = None, False
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
                if length < 0:  # a negative one would lower the bytes counted in flight
                    await _reply(send, 400, "invalid Content-Length header")
                    return
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if length is not None and self.max_request_bytes and length > self.max_request_bytes:
            self.stats.refused_too_large += 1
            await _reply(send, 413, f"request body is {length} bytes; the limit is {self.max_request_bytes}")
            return
        if not length and not chunked:  # no body: nothing to parse, never refused
            await self.app(scope, receive, send)
            return
        cost = length if length is not None else (self.max_request_bytes or self.max_inflight_bytes)
        if not await self._enter(cost):
            self.stats.refused_busy += 1
            await _reply(
                send,
                503,
                f"server at capacity ({self.stats.inflight_requests} requests, {self.stats.inflight_bytes} bytes "
                f"in flight); retry after {self.retry_after_s} s",
                [(b"retry-after", str(self.retry_after_s).encode())],
            )
            return
        await self._guarded(scope, receive, send, cost)

    def _fits(self, cost: int) -> bool:
        s = self.stats
        return not s.inflight_requests or (
            s.inflight_requests < self.max_inflight_requests and s.inflight_bytes + cost <= self.max_inflight_bytes
        )

    def _take(self, cost: int) -> None:
        self.stats.inflight_requests += 1
        self.stats.inflight_bytes += cost
        self.stats.admitted += 1

    async def _enter(self, cost: int) -> bool:
        """Admit now, or after a wait in line for room; False = refuse (no room in time, or the line is full)."""
        if not self._line and self._fits(cost):
            self._take(cost)
            return True
        if len(self._line) >= self.max_inflight_requests or self.admission_wait_s <= 0:
            return False
        loop = asyncio.get_running_loop()
        waiter = _Waiter(cost, loop.create_future())
        self._line.append(waiter)
        self.stats.waiting += 1
        timer = loop.call_later(self.admission_wait_s, self._give_up, waiter)
        try:
            admitted = await waiter.future
        except asyncio.CancelledError:  # the server is stopping: hand back room taken for us meanwhile
            if waiter.future.done() and not waiter.future.cancelled() and waiter.future.result():
                self._leave(cost)
            raise
        finally:
            timer.cancel()
            self.stats.waiting -= 1
            with contextlib.suppress(ValueError):
                self._line.remove(waiter)
        self.stats.admitted_after_wait += admitted
        return admitted

    def _give_up(self, waiter: _Waiter) -> None:
        if not waiter.future.done():
            waiter.future.set_result(False)
        with contextlib.suppress(ValueError):
            self._line.remove(waiter)
        self._wake()  # the ones behind may fit

    def _wake(self) -> None:
        """Admit waiting requests, first come first served, while the head of the line fits."""
        while self._line and self._fits(self._line[0].cost):
            waiter = self._line.popleft()
            if not waiter.future.done():
                self._take(waiter.cost)
                waiter.future.set_result(True)

    def _leave(self, cost: int) -> None:
        self.stats.inflight_requests -= 1
        self.stats.inflight_bytes -= cost
        self._wake()

    async def _guarded(self, scope: Scope, receive: Any, send: Any, cost: int) -> None:
        """Run the app with the body size limit and deadline; leave the door when the response starts (or at
        the latest when the app returns)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s
        received = 0
        body_done = False
        started = False
        refused = False
        left = False

        def leave() -> None:
            nonlocal left
            if not left:
                left = True
                self._leave(cost)

        async def refuse(status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
            # Answer now and tell the app the client left: whatever it does next is dropped.
            nonlocal refused, started
            refused = True
            if not started:
                started = True
                await _reply(send, status, detail, headers)
            return {"type": "http.disconnect"}

        async def guarded_receive() -> Any:
            nonlocal received, body_done
            if refused:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                self.stats.body_timeouts += 1
                log.info("client %s did not send its body within %g s", scope.get("client"), self.body_timeout_s)
                detail = f"request body not received within {self.body_timeout_s:g} s"
                return await refuse(408, detail, [(b"connection", b"close")])
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if self.max_request_bytes and received > self.max_request_bytes:
                    self.stats.refused_too_large += 1
                    return await refuse(413, f"request body is over the limit of {self.max_request_bytes} bytes", [])
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
                leave()
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if not refused:
                raise
        finally:
            leave()
