"""``parsefleet serve`` in a process of its own, and plain HTTP requests to it."""

from __future__ import annotations

import http.client
import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from parsefleet.contract.settings import Settings
from tests.reading.indexed import PARSEFLEET, cli_env

__all__ = ["Console", "Reply", "console"]

_START_TIMEOUT_S = 60


@dataclass(frozen=True)
class Reply:
    """One HTTP response."""

    status: int
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class Console:
    """A running console: its base URL (``http://127.0.0.1:PORT/``) and its process."""

    url: str
    process: subprocess.Popen[str]

    def get(self, target: str, headers: dict[str, str] | None = None, method: str = "GET") -> Reply:
        """``target`` sent as is (no normalisation of ``..``)."""
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        try:
            connection.request(method, target, headers=headers or {})
            response = connection.getresponse()
            body = response.read().decode("utf-8", "replace")
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            connection.close()


@contextmanager
def console(settings: Settings, *args: str, env: dict[str, str] | None = None) -> Iterator[Console]:
    """Start ``parsefleet serve --port 0 ARGS`` and yield it once it prints its URL."""
    command = [*PARSEFLEET, "serve", "--port", "0", *args]
    process = subprocess.Popen(
        command, env={**cli_env(settings), **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline() if process.stdout else ""), daemon=True).start()
    try:
        try:
            first = lines.get(timeout=_START_TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(f"parsefleet serve printed no URL within {_START_TIMEOUT_S} s") from None
        assert first.startswith("parsefleet console on http://"), (
            first,
            process.stderr.read() if process.stderr else "",
        )
        yield Console(first.split()[3], process)
    finally:
        process.terminate()
        process.wait(timeout=60)
