"""Following a run until it finishes: its state, the progress line, and what to tell a person who
waits for workers that are not there."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import redis

from parsefleet.cli import interrupts
from parsefleet.contract.errors import ParsefleetError, StoreUnavailable, WorkersDied
from parsefleet.contract.names import KOMBU_UNACKED_KEY, QUEUES, UNKNOWN_RUNS_KEY
from parsefleet.plumbing import database, unknown_runs
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.runs import mark_finished_if_complete
from parsefleet.reading.report import RunState, load_state
from parsefleet.services.local_workers import LocalWorkers

__all__ = ["IDLE_NOTICE_S", "IdleFleet", "RunWatch", "wait_for"]

log = logging.getLogger(__name__)
_POLL_S = 0.25
_OUTAGE_POLL_S = 1.0
# How long batches may wait with no worker holding any before a person is told.
IDLE_NOTICE_S = 5.0
Connection = psycopg.Connection[tuple[object, ...]]


class RunWatch:
    """Polls a run's state on a connection of its own; rides out a PostgreSQL outage, as the workers
    do (they retry their commits), instead of abandoning a run that will finish once it is back."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._conn: Connection | None = None
        self._down = False

    def state(self, run_id: str) -> RunState | None:
        """The run's state, marking it finished when complete; None while PostgreSQL is unreachable."""
        try:
            self._conn = self._conn or database.connect(self.database_url)
            with database.translated(self.database_url):
                mark_finished_if_complete(self._conn, run_id)
                self._conn.commit()
                state = load_state(self._conn, run_id)
        except StoreUnavailable as exc:
            self.close()
            if not self._down:
                log.warning("%s; waiting for it to come back", exc)
            self._down = True
            return None
        if self._down:
            log.info("PostgreSQL is back; run %s goes on", run_id)
        self._down = False
        return state

    def close(self) -> None:
        """Drop the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass
class IdleFleet:
    """Notices batches waiting in the queues while no worker holds any, for ``IDLE_NOTICE_S``: no
    worker consumes them; and batches of ``run_id`` that a worker refuses because its database does
    not know the run (plumbing/unknown_runs.py). Says each once, with what to do."""

    redis_url: str
    say: Callable[[str], None]
    run_id: str | None = None
    _idle_since: float | None = None
    _said: bool = False
    _said_refused: bool = False
    _redis: redis.Redis | None = None

    def check(self, now_s: float) -> None:
        """Look once (cheap: a few LLEN and two HLEN)."""
        self._check_refused()
        if self._said:
            return
        waiting = self._waiting()
        if waiting is None or not any(waiting.values()) or self._held():
            self._idle_since = None
            return
        self._idle_since = self._idle_since if self._idle_since is not None else now_s
        if now_s - self._idle_since >= IDLE_NOTICE_S:
            queues = ", ".join(f"{queue} ({count} batches)" for queue, count in waiting.items() if count)
            self.say(
                f"no worker consumes {queues}: start one with `parsefleet worker` pointed at the same"
                " PARSEFLEET_REDIS_URL and PARSEFLEET_DATABASE_URL; this keeps waiting (Ctrl-C stops)"
            )
            self._said = True

    def _check_refused(self) -> None:
        if self._said_refused or self.run_id is None:
            return
        try:
            with translated(self.redis_url):
                client = self._client()
                refused = unknown_runs.entries(client) if client.hlen(UNKNOWN_RUNS_KEY) else []
        except ParsefleetError:
            self._redis = None
            return
        mine = [item for item in refused if item.run_id == self.run_id]
        if mine:
            self.say(
                f"worker {mine[0].worker} refuses batches of run {self.run_id}: its database ({mine[0].database})"
                " does not know the run; point it at this run's PARSEFLEET_DATABASE_URL (parsefleet status lists"
                " the refused batches; they are dead-lettered after PARSEFLEET_UNKNOWN_RUN_WAIT_S)"
            )
            self._said_refused = True

    def _waiting(self) -> dict[str, int] | None:
        try:
            with translated(self.redis_url):
                client = self._client()
                return {queue: int(client.llen(queue)) for queue in QUEUES.values()}
        except ParsefleetError:
            self._redis = None
            return None

    def _held(self) -> bool:
        try:
            with translated(self.redis_url):
                return bool(self._client().hlen(KOMBU_UNACKED_KEY))
        except ParsefleetError:
            self._redis = None
            return True

    def _client(self) -> redis.Redis:
        self._redis = self._redis or redis_client(self.redis_url)
        return self._redis


def wait_for(
    watch: RunWatch,
    run_id: str,
    show: Callable[[RunState], None],
    *,
    fleet: LocalWorkers | None,
    idle: IdleFleet | None,
) -> RunState:
    """Poll until the run finishes; WorkersDied when every local worker has exited."""
    while True:
        interrupts.check()
        state = watch.state(run_id)
        if state is not None:
            show(state)
            if state.finished:
                return state
        if fleet is not None and len(fleet.dead()) == fleet.count:
            raise WorkersDied(f"every local worker exited (codes {fleet.dead()}); see {fleet.log_dir}")
        if idle is not None:
            idle.check(time.monotonic())
        time.sleep(_POLL_S if state is not None else _OUTAGE_POLL_S)
