"""``parsefleet serve``: the console on uvicorn, bound to loopback unless a token is configured.

The socket is bound before anything starts, so a refused address or a busy port is one line and
exit 2; the URL printed is the one bound (``--port 0`` picks a free port). The embedded services,
when no URLs are configured, are started (or joined) for as long as the server runs.
"""

from __future__ import annotations

import ipaddress
import socket

import uvicorn

from parsefleet.console.access import AccessPolicy
from parsefleet.console.app import build_app
from parsefleet.console.connections import Connections
from parsefleet.console.reader import Reader
from parsefleet.contract.errors import ConfigError
from parsefleet.contract.settings import Settings
from parsefleet.services.endpoints import Services

__all__ = ["MIN_TOKEN_CHARS", "bind", "is_loopback", "serve"]
MIN_TOKEN_CHARS = 16


def serve(settings: Settings, host: str, port: int) -> int:
    """Run the console until interrupted; ConfigError (exit 2) for an address it may not bind."""
    loopback = is_loopback(host)
    token = settings.serve_token
    if not loopback and not token:
        raise ConfigError(
            f"refusing to serve on {host}, which is not loopback, without a token: set PARSEFLEET_SERVE_TOKEN"
            " (16 characters or more) or bind to 127.0.0.1"
        )
    if token and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"PARSEFLEET_SERVE_TOKEN is too short: {MIN_TOKEN_CHARS} characters or more")
    listener = bind(host, port)
    with listener, Services(settings) as services:
        bound = int(listener.getsockname()[1])
        reader = Reader(Connections(services.database_url), services.redis_url)
        app = build_app(reader, AccessPolicy(token, bound if loopback else None))
        shown = f"[{host}]" if ":" in host else host
        guard = "token required" if token else "loopback only"
        print(f"parsefleet console on http://{shown}:{bound}/ (read-only, {guard}; Ctrl-C stops it)", flush=True)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False)
        try:
            uvicorn.Server(config).run(sockets=[listener])
        finally:
            reader.close()
    return 0


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback address."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"cannot resolve --host {host}: {exc}") from None
    return all(ipaddress.ip_address(str(info[4][0]).partition("%")[0]).is_loopback for info in found)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (the first address it resolves to)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be within 0..65535, got {port}")
    family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return listener
