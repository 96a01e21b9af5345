"""Running the app under uvicorn: checked address, and a deadline on request headers (slow-loris).

uvicorn closes a keep-alive connection that stays idle, but not one that never finishes its request
headers: a client sending one header byte a second (or nothing after connecting) held its connection
forever. :class:`HeaderDeadlineProtocol` is uvicorn's own HTTP protocol (httptools or h11, whichever
uvicorn picks) plus a timer: a connection must complete each request's headers within
``header_timeout_s`` of connecting or of sending the first byte of that request, or it is closed. The
body has its own deadline in :class:`~distilsec.serving.api.limits.Door` (where a 408 can be answered).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import logging
import os
import socket
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from distilsec.errors import DistilsecError

__all__ = ["HeaderDeadlineProtocol", "check_address", "run_server"]

log = logging.getLogger(__name__)


class HeaderDeadlineProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol that closes connections whose request headers do not arrive in time."""

    def __init__(self, *args: Any, header_timeout_s: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None
        self._timed_cycle: Any = None  # the request cycle that was the latest when the timer was armed

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        # Bytes while no request is running begin the next request: its clock starts now, unless it runs
        # already for these same headers (a timer armed since the last request began).
        idle = self.cycle is None or self.cycle.response_complete
        if idle and (self._header_timer is None or self._timed_cycle is not self.cycle):
            self._arm()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._timed_cycle = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        # uvicorn makes a new request cycle when a request's headers are complete: none since arming = too slow.
        if self.cycle is self._timed_cycle and not self.transport.is_closing():
            log.info("closing %s: request headers not received within %g s", self.client, self.header_timeout_s)
            self.transport.close()


def check_address(host: str, port: int) -> None:
    """Refuse a port outside 1-65535, a host that does not resolve, or an address that cannot be bound.

    Checked before any model loads, so a typo costs a second, not a minute; and before anything is
    announced (``--port 99999`` was announced as such, then bound as 34463: 99999 mod 65536).
    """
    if not 1 <= port <= 65535:
        raise DistilsecError(f"--port {port} is not a TCP port: use a number from 1 to 65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise DistilsecError(f"--host {host!r} is not an address or a known host name ({exc})") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DistilsecError(f"port {port} on {host} is already in use: choose another --port") from None
            if exc.errno == errno.EACCES:
                raise DistilsecError(f"port {port} needs privileges on this machine: use a port above 1023") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise DistilsecError(
                    f"--host {host} is not an address of this machine: use 127.0.0.1 (this machine only) or 0.0.0.0"
                ) from None
            raise DistilsecError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def url(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run_server(settings: Any, app: Any, *, host: str, port: int, workers: int = 1, log_level: str = "warning") -> None:
    """Serve ``app`` (built from ``settings``) with uvicorn and the header deadline (idle keep-alive: 5 s)."""
    import uvicorn

    from distilsec.serving.api.app import ENV_SETTINGS

    protocol = functools.partial(HeaderDeadlineProtocol, header_timeout_s=settings.client_timeout_s)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "http": protocol,
    }
    if workers > 1:  # each worker process rebuilds the app from the environment
        os.environ[ENV_SETTINGS] = json.dumps(settings.model_dump())
        uvicorn.run("distilsec.serving.api.app:app_from_env", factory=True, workers=workers, **common)
    else:
        uvicorn.run(app, **common)
