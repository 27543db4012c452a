"""Local worker processes for ``parsefleet run``: real Celery workers in their own processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from parsefleet.contract.names import PARENT_PID_ENV

__all__ = ["LocalWorkers", "worker_env"]

_STOP_TIMEOUT_S = 60


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
        env: Mapping[str, str] | None = None,
    ) -> None:
        # the workers stop (warm shutdown) if this process dies without stopping them
        self.env = {**worker_env(redis_url, database_url), PARENT_PID_ENV: str(os.getpid()), **(env or {})}
        self.log_dir = log_dir
        self.count = count
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        """Launch the worker processes (they log to ``<log_dir>/worker-<n>.log``)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for index in range(self.count):
            # -P: nothing from the working directory on sys.path; cwd: the log directory, not a target
            command = [
                sys.executable, "-P", "-m", "parsefleet.workers", "--hostname", f"parsefleet-local-{index}@%h",
                "--without-gossip", "--without-mingle",
            ]  # fmt: skip
            with open(self.log_dir / f"worker-{index}.log", "ab") as log_file:
                self.processes.append(
                    subprocess.Popen(
                        command,
                        env=self.env,
                        cwd=self.log_dir,
                        stdin=subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=log_file,
                    )
                )

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
