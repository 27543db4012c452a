"""Who may ask the console what, as ASGI middleware around the whole application.

- Read-only: GET and HEAD only; any other method gets 405 before it reaches a route.
- A token (``PARSEFLEET_SERVE_TOKEN``), when configured, on every request: ``Authorization: Bearer
  <token>``, or HTTP Basic with any user name and the token as password (what a browser prompts
  for). Compared in constant time; never echoed, logged or put in a page.
- On a loopback bind, the Host header must name loopback (``127.0.0.1``, ``localhost``, ``[::1]``):
  a page elsewhere that makes its own name resolve to 127.0.0.1 (DNS rebinding) reads nothing.
- Every response says what a browser may load (Content-Security-Policy: this origin's scripts and
  styles only, no frames, no inline script) and that it is not to be sniffed or cached.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

__all__ = ["SECURITY_HEADERS", "AccessMiddleware", "AccessPolicy"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_READ_METHODS = frozenset({"GET", "HEAD"})
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class AccessPolicy:
    """The token (empty: none asked) and, on a loopback bind, the Host values accepted."""

    def __init__(self, token: str, loopback_port: int | None) -> None:
        self._token = token.encode()
        self._hosts = None if loopback_port is None else _loopback_hosts(loopback_port)

    def host_allowed(self, host: str | None) -> bool:
        """True unless the bind is loopback and ``host`` names something else."""
        return self._hosts is None or (host or "").lower() in self._hosts

    def authorized(self, authorization: str | None) -> bool:
        """True when no token is configured, or the header carries it."""
        if not self._token:
            return True
        given = _credential(authorization or "")
        return given is not None and hmac.compare_digest(given, self._token)


def _loopback_hosts(port: int) -> frozenset[str]:
    return frozenset(name for host in _LOOPBACK_NAMES for name in (host, f"{host}:{port}"))


def _credential(authorization: str) -> bytes | None:
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip().encode()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        return decoded.partition(b":")[2]
    return None


class AccessMiddleware:
    """Applies an AccessPolicy to HTTP requests, and the security headers to every response."""

    def __init__(self, app: App, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _respond(send, scope, *refusal)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, secured)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, Iterable[tuple[bytes, bytes]]] | None:
        if not self.policy.host_allowed(headers.get("host")):
            return 421, "this console answers to its loopback address only", ()
        if not self.policy.authorized(headers.get("authorization")):
            challenge = ((b"www-authenticate", b'Basic realm="parsefleet", charset="UTF-8"'),)
            return 401, "a token is required (PARSEFLEET_SERVE_TOKEN)", challenge
        if scope["method"] not in _READ_METHODS:
            return 405, "the console is read-only: GET and HEAD only", ((b"allow", b"GET, HEAD"),)
        return None


async def _respond(send: Send, scope: Scope, status: int, detail: str, extra: Iterable[tuple[bytes, bytes]]) -> None:
    if str(scope.get("path", "")).startswith("/api/"):
        body, kind = json.dumps({"detail": detail}).encode(), b"application/json"
    else:
        body, kind = (detail + "\n").encode(), b"text/plain; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *extra, *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})
