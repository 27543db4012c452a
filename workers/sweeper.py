"""The outbox sweep: every worker's main process sends again the batches Redis lost track of.

A thread of the worker's main process (a Celery bootstep, so plain ``celery -A
parsefleet.workers.app worker`` has it too; it reads the settings the app was built from) wakes
every ``outbox_sweep_s``; one worker of the fleet per period takes the turn (a Redis key with that
expiry) and sends again what ``parsefleet.plumbing.outbox.Outbox.lost`` returns. A thread rather
than Celery's timer: a sweep waits on Redis, and the timer shares the event loop that feeds the
pool. Redis unreachable: that sweep is skipped, the next one tries again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import kombu.exceptions
from celery import Celery, bootsteps

from parsefleet.contract.errors import ParsefleetError
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.outbox import Outbox, send
from parsefleet.workers.fork_gate import gate

__all__ = ["OutboxSweep", "sweep_once"]

log = logging.getLogger(__name__)

_STOP_JOIN_S = 5.0


def sweep_once(app: Celery, outbox: Outbox, owner: str, config: Settings) -> int:
    """Take this period's turn if no other worker has; send the lost batches again; return how many."""
    if not outbox.claim_sweep(owner, config.outbox_sweep_s):
        return 0
    lost = outbox.lost(time.time(), config.outbox_grace_s)
    for kept in lost:
        log.warning("batch %s left Redis without reaching a worker; sent again", kept.batch_id)
        send(app, kept)
    return len(lost)


class OutboxSweep(bootsteps.StartStopStep):
    """The sweeping thread of one worker's main process."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, parent: Any) -> None:
        """Start sweeping (``parent`` is Celery's worker)."""
        self._thread = threading.Thread(target=self._run, args=(parent.app,), name="outbox-sweep", daemon=True)
        self._thread.start()

    def stop(self, parent: Any) -> None:
        """Stop sweeping."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(_STOP_JOIN_S)

    def _run(self, app: Celery) -> None:
        config = getattr(app, "settings", None)  # a parsefleet.workers.app.WorkerApp's
        if not isinstance(config, Settings):
            log.error("outbox sweep not started: the app was not built by parsefleet.workers.app.build_app")
            return
        owner = f"{socket.gethostname()}:{os.getpid()}"
        url = config.redis_url or ""
        outbox: Outbox | None = None
        while not self._stop.wait(config.outbox_sweep_s):
            with gate.turn():  # each sweep between two forks of the pool (workers.fork_gate)
                try:
                    with translated(url):
                        outbox = outbox or Outbox(redis_client(url))
                        sweep_once(app, outbox, owner, config)
                except (ParsefleetError, kombu.exceptions.OperationalError) as exc:
                    outbox = None
                    log.warning("outbox sweep skipped: %s", exc)
