"""The review page's guard: who may talk to it, and how a page proves a POST came from itself.

Item texts are attacker-controlled, and the page writes labels that decide what a detector learns, so
every request passes :class:`ReviewGuard` (plain ASGI middleware, outermost):

* **Host check** (DNS rebinding), when no token is set: a request whose ``Host`` is not the bound address,
  ``localhost`` or ``127.0.0.1``/``[::1]`` (with the port) gets 421: a web page elsewhere cannot point its
  own name at this port and read the queue through the browser. (With a token, a page bound to a network
  address is reached by whatever name the network gives it; the token, which such a page cannot know,
  is the gate.)
* **Token** (required when the page is bound beyond the loopback address; optional on it): accepted as
  ``Authorization: Bearer``, as the ``HttpOnly`` cookie, or once as ``?token=`` on a GET, which sets the
  cookie and redirects to the same URL without it (the token leaves the address bar and history).
* **CSRF** on every state-changing request: the ``Origin`` must be this server, the body JSON, and the
  ``X-CSRF-Token`` header (the page's script reads it from the page) equal to the ``HttpOnly``,
  ``SameSite=Strict`` CSRF cookie (double submit): a form on another site can neither set the header
  nor read the cookie.
* **Headers** on every response: a Content-Security-Policy that allows only this server's own script and
  style (no inline script, no framing, no plugins), ``nosniff``, no referrer, no caching.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

__all__ = ["ReviewGuard", "is_loopback", "CSRF_COOKIE", "TOKEN_COOKIE", "CSRF_HEADER", "SECURITY_HEADERS"]

CSRF_COOKIE = "distilsec_review_csrf"
TOKEN_COOKIE = "distilsec_review_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _reply(send: Any, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + SECURITY_HEADERS + (headers or [])})
    await send({"type": "http.response.body", "body": body})


class ReviewGuard:
    """ASGI middleware: host check, token, CSRF and security headers (see the module doc).

    ``scope["state"]["csrf"]`` carries the request's CSRF token (the cookie's, or a new one that the
    response then sets), so the page can embed it for its script.
    """

    def __init__(self, app: Any, *, host: str, port: int, token: str | None) -> None:
        self.app = app
        self.token = token
        self.allowed = {f"{h}:{port}".encode() for h in ("localhost", "127.0.0.1", "[::1]")}
        bound = f"[{host}]" if ":" in host and not host.startswith("[") else host
        self.allowed.add(f"{bound}:{port}".encode())
        if port == 80:
            self.allowed |= {h.rsplit(b":", 1)[0] for h in self.allowed}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        host = headers.get(b"host", b"")
        if self.token is None and host.lower() not in self.allowed:  # with a token, the token is the gate
            await _reply(send, 421, "unexpected Host header: open the page at the address `distilsec review` printed")
            return
        cookies = _cookies(headers.get(b"cookie", b""))
        extra: list[tuple[bytes, bytes]] = []
        if self.token is not None:
            verdict = self._token(scope, headers, cookies)
            if verdict == "redirect":
                await self._redirect_without_token(scope, send)
                return
            if verdict != "ok":
                await _reply(send, 401, "this review page needs its token: open the URL `distilsec review` printed")
                return
        csrf = cookies.get(CSRF_COOKIE, "")
        if len(csrf) != 43:  # token_urlsafe(32)
            csrf = secrets.token_urlsafe(32)
            extra.append((b"set-cookie", f"{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Strict".encode()))
        if scope["method"] not in SAFE_METHODS:
            problem = self._csrf_problem(headers, cookies.get(CSRF_COOKIE, ""))
            if problem:
                await _reply(send, 403, problem)
                return
        scope.setdefault("state", {})["csrf"] = csrf

        async def guarded_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS, *extra]}
            await send(message)

        await self.app(scope, receive, guarded_send)

    def _token(self, scope: dict[str, Any], headers: dict[bytes, bytes], cookies: dict[str, str]) -> str:
        assert self.token is not None
        want = self.token.encode()
        auth = headers.get(b"authorization", b"")
        if auth.startswith(b"Bearer ") and hmac.compare_digest(auth[7:].strip(), want):
            return "ok"
        if hmac.compare_digest(cookies.get(TOKEN_COOKIE, "").encode(), want):
            return "ok"
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if scope["method"] == "GET" and hmac.compare_digest(query.get("token", "").encode(), want):
            return "redirect"
        return "refused"

    async def _redirect_without_token(self, scope: dict[str, Any], send: Any) -> None:
        query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k != "token"]
        location = scope.get("path", "/") + (f"?{urlencode(query)}" if query else "")
        cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        head = [(b"location", location.encode()), (b"set-cookie", cookie.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 303, "headers": head + SECURITY_HEADERS})
        await send({"type": "http.response.body", "body": b""})

    def _csrf_problem(self, headers: dict[bytes, bytes], cookie: str) -> str | None:
        origin = headers.get(b"origin", b"")
        host = headers.get(b"host", b"")
        if origin != b"http://" + host:
            return "cross-origin request refused (the Origin header must be this page)"
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            return "requests that change labels must send JSON"
        sent = headers.get(CSRF_HEADER.encode(), b"")
        if not cookie or not hmac.compare_digest(sent, cookie.encode()):
            return "missing or wrong CSRF token: reload the page"
        return None


def _cookies(raw: bytes) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # noqa: BLE001 - a malformed Cookie header is treated as no cookies
        return {}
    return {k: m.value for k, m in jar.items()}
