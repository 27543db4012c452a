"""What each CLI command does, given settings; the CLI only parses options and calls these."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import psycopg

from parsefleet.cli.progress import ProgressBar
from parsefleet.contract.errors import StoreUnavailable, WorkersDied
from parsefleet.contract.names import QUEUES
from parsefleet.contract.settings import Settings
from parsefleet.plumbing import database, dead_letter
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.database import session
from parsefleet.plumbing.migrations import migrate
from parsefleet.plumbing.outbox import Outbox
from parsefleet.plumbing.runs import mark_finished_if_complete
from parsefleet.producer.submission import Submission, Tally
from parsefleet.producer.walk import Plan, plan_targets
from parsefleet.reading.report import RunReport, RunState, load_report, load_state, recent_runs
from parsefleet.services.endpoints import Services, usable_data_dir
from parsefleet.services.local_workers import LocalWorkers
from parsefleet.telemetry.alerts import Alert, check_alerts
from parsefleet.telemetry.retention import Retention, apply_retention

__all__ = [
    "FleetStatus",
    "alerts",
    "db_migrate",
    "db_retention",
    "report",
    "run",
    "status",
    "submit",
    "worker",
]

log = logging.getLogger(__name__)
_POLL_S = 0.25
_OUTAGE_POLL_S = 1.0
Connection = psycopg.Connection[tuple[object, ...]]


def db_migrate(settings: Settings) -> list[str]:
    """Apply pending migrations; return the files applied."""
    with Services(settings, need_redis=False) as services:
        return migrate(services.database_url)


def alerts(settings: Settings) -> list[Alert]:
    """The alert rules, evaluated against the stored measurements."""
    with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
        return check_alerts(conn)


def db_retention(settings: Settings, keep: timedelta) -> Retention:
    """Drop measurements older than ``keep`` (policy, drop_chunks or delete: see parsefleet.telemetry.retention)."""
    with Services(settings, need_redis=False) as services:
        migrate(services.database_url)
        with session(services.database_url) as conn:
            return apply_retention(conn, keep)


def run(settings: Settings, targets: Sequence[Path], *, workers: int, progress: bool, ci: bool) -> RunReport:
    """The main job: services, schema, local workers, submit, wait, report."""
    plan = plan_targets(targets, settings)
    with Services(settings) as services:
        migrate(services.database_url)
        log_dir = usable_data_dir(settings).private_dir("logs")
        fleet = LocalWorkers(services.redis_url, services.database_url, log_dir, workers)
        fleet.start()
        try:
            tally = _submit_and_wait(settings, services, plan, ci=ci, progress=progress, fleet=fleet)
        finally:
            fleet.stop()
        with session(services.database_url) as conn:
            return load_report(conn, tally.run_id)


def submit(settings: Settings, targets: Sequence[Path], *, wait: bool, progress: bool, ci: bool) -> RunReport:
    """Submit targets to the fleet (running workers elsewhere); optionally wait for the run."""
    plan = plan_targets(targets, settings)
    with Services(settings) as services:
        migrate(services.database_url)
        if wait:
            tally = _submit_and_wait(settings, services, plan, ci=ci, progress=progress, fleet=None)
        else:
            tally = Submission(settings, services.redis_url, services.database_url, ci=ci).run(plan)
        with session(services.database_url) as conn:
            return load_report(conn, tally.run_id)


def report(settings: Settings, run_id: str | None) -> RunReport:
    """The report of one run (default: the latest)."""
    with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
        return load_report(conn, run_id)


@dataclass(frozen=True)
class FleetStatus:
    """What ``parsefleet status`` shows."""

    queues: dict[str, int]
    in_flight: int
    dead_letter: int
    runs: list[RunState]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "queues": self.queues,
            "in_flight": self.in_flight,
            "dead_letter": self.dead_letter,
            "runs": [_state_dict(r) for r in self.runs],
        }

    def render(self) -> str:
        """Text for a terminal."""
        lines = ["queues: " + ", ".join(f"{lang} {depth}" for lang, depth in self.queues.items())]
        lines.append(f"in flight: {self.in_flight} batches sent and not finished (queued or being parsed)")
        hint = " (parsefleet dead-letter list)" if self.dead_letter else ""
        lines.append(f"dead letters: {self.dead_letter}{hint}")
        for run in map(_state_dict, self.runs):
            lines.append(
                f"run {run['run_id']} started {run['started_at']} batches {run['batches']} "
                f"files {run['files_done']} {'finished' if run['finished'] else 'running'}"
            )
        return "\n".join(lines)


def status(settings: Settings, limit: int) -> FleetStatus:
    """Queue depths, dead letters and the latest runs."""
    with Services(settings) as services:
        client = redis_client(services.redis_url)
        with translated(services.redis_url):
            depths = {language: int(client.llen(queue)) for language, queue in QUEUES.items()}
            dead = dead_letter.count(client)
            in_flight = Outbox(client).count()
        with session(services.database_url) as conn:
            return FleetStatus(depths, in_flight, dead, recent_runs(conn, limit))


def worker(settings: Settings, celery_args: Sequence[str]) -> int:
    """Run a Celery worker in this process (embedded services started when no URL is set)."""
    with Services(settings) as services:
        migrate(services.database_url)
        from parsefleet.workers.app import build_app

        app = build_app(replace(settings, redis_url=services.redis_url, database_url=services.database_url))
        app.worker_main(["worker", "--queues", ",".join(QUEUES.values()), *celery_args])
    return 0


def write_json(data: object, path: str) -> None:
    """Write ``data`` as JSON to ``path`` (``-`` is stdout)."""
    text = json.dumps(data, indent=2, default=str)
    if path == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(path).write_text(text + "\n")


def _submit_and_wait(
    settings: Settings,
    services: Services,
    plan: Plan,
    *,
    ci: bool,
    progress: bool,
    fleet: LocalWorkers | None,
) -> Tally:
    bar = ProgressBar(enabled=progress)
    watch = _RunWatch(services.database_url)

    def show(tally: Tally) -> None:
        state = watch.state(tally.run_id)
        if state is not None:
            bar.update(state.files_done, sum(tally.sent.values()), "waiting" if tally.submitted else "submitting")

    submission = Submission(settings, services.redis_url, services.database_url, ci=ci, progress=show)
    try:
        tally = submission.run(plan)
        _wait(watch, tally, bar, fleet)
    finally:
        watch.close()
        bar.close()
    return tally


class _RunWatch:
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


def _wait(watch: _RunWatch, tally: Tally, bar: ProgressBar, fleet: LocalWorkers | None) -> None:
    total = sum(tally.sent.values())
    while True:
        state = watch.state(tally.run_id)
        if state is not None:
            bar.update(state.files_done, total, "waiting")
            if state.finished:
                return
        if fleet is not None and len(fleet.dead()) == fleet.count:
            raise WorkersDied(f"every local worker exited (codes {fleet.dead()}); see {fleet.log_dir}")
        time.sleep(_POLL_S if state is not None else _OUTAGE_POLL_S)


def _state_dict(state: RunState) -> dict[str, object]:
    return {
        "run_id": state.run_id,
        "started_at": state.started_at.isoformat(),
        "finished": state.finished,
        "batches": f"{state.batches_done}/{state.batches_total if state.batches_total is not None else '?'}",
        "files_done": state.files_done,
    }
