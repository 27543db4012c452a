"""Local worker processes for ``parsefleet run``: real Celery workers in their own processes.

Under root, they parse untrusted input as the service account instead (parsefleet.services.account),
with no other groups, when that account can reach the Python they run and parsefleet's code; when
it cannot (a virtual environment inside root's home, say), they run as root and ``run_as_root``
says why in one line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

import parsefleet
from parsefleet.contract.names import PARENT_PID_ENV
from parsefleet.services.account import Account

__all__ = ["LocalWorkers", "worker_env", "workers_blocked_for"]

_STOP_TIMEOUT_S = 60
_LOG_MODE = 0o600


def worker_env(redis_url: str, database_url: str) -> dict[str, str]:
    """The environment of a worker process: ours, plus the service URLs it must use."""
    return {**os.environ, "PARSEFLEET_REDIS_URL": redis_url, "PARSEFLEET_DATABASE_URL": database_url}


class LocalWorkers:
    """Starts ``count`` Celery worker processes consuming every language queue; stops them warmly."""

    def __init__(
        self,
        redis_url: str,
        database_url: str,
        log_dir: Path,
        count: int = 1,
        *,
        env: Mapping[str, str] | None = None,
        account: Account | None = None,
    ) -> None:
        # the workers stop (warm shutdown) if this process dies without stopping them
        self.env = {**worker_env(redis_url, database_url), PARENT_PID_ENV: str(os.getpid()), **(env or {})}
        self.log_dir = log_dir
        self.count = count
        self.processes: list[subprocess.Popen[bytes]] = []
        blocked = None if account is None or account.is_current else workers_blocked_for(account)
        self.account = account if account is not None and not account.is_current and blocked is None else None
        # why the workers run as root although an account was given (None: they do not)
        self.run_as_root: str | None = None
        if blocked is not None and account is not None:
            what, where = blocked
            self.run_as_root = (
                f"local workers run as root: user {account.name} cannot reach {what} ({where} is closed to it)"
            )

    def start(self) -> None:
        """Launch the worker processes (they log to ``<log_dir>/worker-<n>.log``)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for index in range(self.count):
            # -P: nothing from the working directory on sys.path; cwd: the log directory, not a target
            command = [
                sys.executable, "-P", "-m", "parsefleet.workers", "--hostname", f"parsefleet-local-{index}@%h",
                "--without-gossip", "--without-mingle",
            ]  # fmt: skip
            fd = os.open(self.log_dir / f"worker-{index}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, _LOG_MODE)
            os.fchmod(fd, _LOG_MODE)
            with open(fd, "ab") as log_file:
                self.processes.append(
                    subprocess.Popen(
                        command,
                        env=self._env(),
                        cwd=self.log_dir,
                        stdin=subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=log_file,
                        **(self.account.process_options() if self.account is not None else {}),
                    )
                )

    def _env(self) -> dict[str, str]:
        if self.account is None:
            return self.env
        return {**self.env, "HOME": "/nonexistent", "USER": self.account.name, "LOGNAME": self.account.name}

    def dead(self) -> list[int]:
        """Exit codes of workers that have stopped on their own."""
        return [code for code in (process.poll() for process in self.processes) if code is not None]

    def stop(self) -> None:
        """Warm shutdown: each worker finishes (and acknowledges) its current batch, then exits."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def workers_blocked_for(account: Account) -> tuple[Path, Path] | None:
    """(what, where) when ``account`` cannot reach something a worker process needs: this Python,
    its standard library and site-packages, or parsefleet's own code; None when it can."""
    needed = [Path(os.path.realpath(sys.executable))]
    needed += [Path(sysconfig.get_paths()[name]) for name in ("stdlib", "platstdlib", "purelib", "platlib")]
    needed += [Path(path) for path in parsefleet.__path__]
    for path in needed:
        blocked = account.blocked_at(path)
        if blocked is not None:
            return path, blocked
    return None
