"""What each CLI command does, given settings; the CLI only parses options and calls these."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from parsefleet.cli import interrupts
from parsefleet.cli.progress import Progress, ProgressBar
from parsefleet.cli.watch import IdleFleet, RunWatch, wait_for
from parsefleet.contract.errors import ParsefleetError
from parsefleet.contract.names import QUEUES
from parsefleet.contract.paths import printable, to_text
from parsefleet.contract.settings import Settings
from parsefleet.plumbing import database
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.cancellation import Cancellation, cancel_run
from parsefleet.plumbing.database import session
from parsefleet.plumbing.migrations import migrate
from parsefleet.producer.resume import resume_point
from parsefleet.producer.snapshot import Snapshot, plan_targets, refresh
from parsefleet.producer.submission import Submission, Tally
from parsefleet.producer.targets import TargetStream, planned, read_targets, resumed
from parsefleet.reading.outdated import OutdatedFile, outdated_files
from parsefleet.reading.report import (
    FileOutcome,
    RepositoryState,
    RunReport,
    RunState,
    load_files,
    load_report,
    load_repositories,
    load_state,
)
from parsefleet.reading.repositories import repository_named
from parsefleet.services.account import service_account
from parsefleet.services.endpoints import Services, usable_data_dir
from parsefleet.services.local_workers import LocalWorkers
from parsefleet.telemetry.alerts import Alert, check_alerts
from parsefleet.telemetry.retention import Retention, apply_retention

__all__ = [
    "RunOptions",
    "alerts",
    "cancel",
    "db_migrate",
    "db_retention",
    "reindex",
    "report",
    "report_files",
    "report_repositories",
    "run",
    "submit",
    "worker",
]

log = logging.getLogger(__name__)


def _quiet(_message: str) -> None:
    """Say nothing (the default of ``RunOptions.say``)."""


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


def run(settings: Settings, targets: Sequence[Path], options: RunOptions) -> RunReport:
    """The main job: services, schema, local workers, submit, wait, report. Interrupted, it cancels
    its run (local workers stop with it) and says so."""
    plan = _prepared(settings, targets, options)
    with plan or nullcontext(), Services(settings, say=options.say) as services:
        migrate(services.database_url)
        data_dir = usable_data_dir(settings)
        log_dir = data_dir.private_dir("logs")
        account = services.account or service_account(settings.service_user)
        # the workers' temporary files (Celery's pool: billiard's shared memory) stay in the data directory too
        env = {"TMPDIR": str(data_dir.service_dir("tmp"))}
        fleet = LocalWorkers(
            services.redis_url, services.database_url, log_dir, options.workers, env=env, account=account
        )
        who = f" as {fleet.account.name}" if fleet.account is not None else ""
        plural = "s" if options.workers > 1 else ""
        options.say(f"starting {options.workers} local worker{plural}{who} (logs: {log_dir})")
        if fleet.run_as_root:
            options.say(f"parsefleet: warning: {fleet.run_as_root}")
        fleet.start()
        try:
            tally = _submit_and_wait(settings, services, plan, options, fleet=fleet)
        finally:
            fleet.stop()
        with session(services.database_url) as conn:
            return load_report(conn, tally.run_id)


def submit(settings: Settings, targets: Sequence[Path], options: RunOptions) -> RunReport:
    """Submit targets to the fleet (running workers elsewhere); optionally wait for the run."""
    plan = _prepared(settings, targets, options)
    with plan or nullcontext(), Services(settings, say=options.say) as services:
        migrate(services.database_url)
        return _submit_plan(settings, services, plan, options)


def reindex(settings: Settings, language: str | None, repository: str | None, options: RunOptions) -> RunReport | None:
    """Parse again, as one run submitted to the fleet, the blobs of the current views that an older
    parser version outlined (of ``language``, of ``repository``: None for all); None when there is
    none."""
    with Services(settings, say=options.say) as services:
        migrate(services.database_url)
        with session(services.database_url) as conn:
            ids = None if repository is None else [repository_named(conn, to_text(repository)).id]
            found = outdated_files(conn, language, ids)
        plan = _refresh_plan(found, options.say)
        return _submit_plan(settings, services, planned(plan, settings), options) if plan else None


def _refresh_plan(found: Sequence[OutdatedFile], say: Callable[[str], None]) -> list[Snapshot]:
    """One snapshot per repository of the outdated files, read where the repository was last read."""
    by_repository: dict[int, list[OutdatedFile]] = {}
    for item in found:
        by_repository.setdefault(item.repository_id, []).append(item)
    plan = []
    for items in by_repository.values():
        first = items[0]
        files = [(item.path, item.blob_hash, item.size_bytes) for item in items]
        snapshot = None if first.location is None else refresh(first.name, first.location, first.indexed_commit, files)
        if snapshot is None:
            say(f"parsefleet: {printable(first.name)}: its location is gone; {len(items)} outdated blobs left")
        else:
            plan.append(snapshot)
    return plan


def _submit_plan(settings: Settings, services: Services, plan: TargetStream | None, options: RunOptions) -> RunReport:
    if options.wait:
        tally = _submit_and_wait(settings, services, plan, options, fleet=None)
    else:
        submission, stream = _producer(settings, services, plan, options)
        tally = _submitted(services, submission, stream, options)
    with session(services.database_url) as conn:
        return load_report(conn, tally.run_id)


def _prepared(settings: Settings, arguments: Sequence[Path], options: RunOptions) -> TargetStream | None:
    """The targets of a new run; None when resuming one (its targets are stored). A run of commits
    (--rev, --name, --history, --since) looks at its targets up front (``snapshot.plan_targets``);
    any other streams them (``_targets``)."""
    if options.resume is not None:
        return None
    if options.revision is None and options.name is None and options.history is None and options.since is None:
        return _targets(settings, arguments, options)
    targets = read_targets(arguments, options.from_files, stdin=sys.stdin.buffer, strict=True)
    paths = [target.path for target in targets]
    plan = plan_targets(
        paths, settings, revision=options.revision, name=options.name, history=options.history, since=options.since
    )
    return planned(plan, settings)


def _producer(
    settings: Settings,
    services: Services,
    plan: TargetStream | None,
    options: RunOptions,
    progress: Callable[[Tally], None] | None = None,
) -> tuple[Submission, TargetStream]:
    """The producer of a new run, or of the run ``options.resume`` from where its producer stopped."""
    urls = (services.redis_url, services.database_url)
    if plan is not None:
        return Submission(settings, *urls, ci=options.ci, progress=progress, priority=options.priority), plan
    assert options.resume is not None
    point = resume_point(settings, services.database_url, options.resume)
    options.say(f"resuming run {point.run_id}: {len(point.targets)} targets to go")
    submission = Submission(settings, *urls, progress=progress, resume=point, priority=options.priority)
    return submission, resumed(point.targets, point.plans, settings)


def _targets(settings: Settings, arguments: Sequence[Path], options: RunOptions) -> TargetStream:
    """The targets of a run (bad ``--from`` lines said and kept as failed targets), listed until one
    has a file to parse: a submission with nothing to parse fails before anything starts."""
    targets = read_targets(arguments, options.from_files, stdin=sys.stdin.buffer, strict=options.strict)
    for target in targets:
        if target.bad is not None:
            options.say(f"parsefleet: warning: {target.origin}: {target.bad}; skipped (a failed target of the run)")
    stream = TargetStream(targets, settings)
    try:
        stream.check_some_files()
    except BaseException:
        stream.close()
        raise
    return stream


def cancel(settings: Settings, run_id: str) -> Cancellation:
    """Cancel a run: its queued batches withdrawn, the run marked cancelled (see plumbing.cancellation)."""
    with Services(settings) as services:
        return _cancel(services, run_id)


def _cancel(services: Services, run_id: str) -> Cancellation:
    client = redis_client(services.redis_url)
    try:
        redis_errors, store_errors = translated(services.redis_url), database.translated(services.database_url)
        with session(services.database_url) as conn, redis_errors, store_errors:
            return cancel_run(conn, client, run_id)
    finally:
        client.close()


def report(settings: Settings, run_id: str | None) -> RunReport:
    """The report of one run (default: the latest)."""
    with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
        return load_report(conn, run_id)


def report_files(settings: Settings, run_id: str | None, statuses: tuple[str, ...]) -> list[FileOutcome]:
    """The files of a run (default: the latest) whose outline is partial, a fallback, or failed."""
    with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
        state = load_state(conn, run_id)
        return load_files(conn, state.run_id, statuses)


def report_repositories(settings: Settings, run_id: str | None) -> list[RepositoryState]:
    """The targets of a run (default: the latest) with their states."""
    with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
        state = load_state(conn, run_id)
        return load_repositories(conn, state.run_id)


def worker(settings: Settings, celery_args: Sequence[str]) -> int:
    """Run a Celery worker in this process (embedded services started when no URL is set)."""
    with Services(settings) as services:
        migrate(services.database_url)
        from parsefleet.workers.app import build_app, run_worker

        app = build_app(replace(settings, redis_url=services.redis_url, database_url=services.database_url))
        queues = ",".join(QUEUES.values())
        return run_worker(app, ["--queues", queues, "--loglevel", settings.log_level, *celery_args])


def write_json(data: object, path: str) -> None:
    """Write ``data`` as JSON to ``path`` (``-`` is stdout)."""
    text = json.dumps(data, indent=2, default=str)
    if path == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(path).write_text(text + "\n")


@dataclass(frozen=True)
class RunOptions:
    """How ``run`` and ``submit`` behave, from their command-line options."""

    ci: bool = False
    from_files: tuple[str, ...] = ()  # `--from` lists of targets ('-': standard input)
    strict: bool = False  # a bad `--from` line fails the submission
    resume: str | None = None  # the run whose producer stopped, to go on with instead of new targets
    progress: bool = True
    wait: bool = True
    workers: int = 1
    started_s: float = field(default_factory=time.monotonic)
    say: Callable[[str], None] = _quiet
    revision: str | None = None  # --rev: the commit read from each target (default: HEAD of a clean one)
    name: str | None = None  # --name: the repository's name (one target)
    history: int | None = None  # --history N: index each of the last N commits, oldest first
    since: str | None = None  # --since C: index each commit after C
    priority: int = 0  # --priority N: against other producers running (producer/lease.py)


def _submit_and_wait(
    settings: Settings,
    services: Services,
    plan: TargetStream | None,
    options: RunOptions,
    *,
    fleet: LocalWorkers | None,
) -> Tally:
    bar = ProgressBar(enabled=options.progress, started_s=options.started_s)
    watch = RunWatch(services.database_url)
    shown = replace(options, say=bar.say)

    def show(tally: Tally) -> None:
        state = watch.state(tally.run_id)
        if state is not None:
            phase = "waiting" if tally.submitted else "sending"
            seen, sent = sum(tally.seen.values()), sum(tally.sent.values())
            bar.update(Progress(seen, sent, state.files_done, phase, tally.targets_read, tally.targets))

    submission, stream = _producer(settings, services, plan, shown, show)
    try:
        tally = _submitted(services, submission, stream, shown)
        _wait(services, watch, tally, bar, shown, fleet=fleet)
    finally:
        watch.close()
        bar.close()
    return tally


def _submitted(services: Services, submission: Submission, plan: TargetStream, options: RunOptions) -> Tally:
    """Run the producer; interrupted, cancel what it had sent and say so."""
    try:
        return submission.run(plan)
    except KeyboardInterrupt:
        interrupts.caught()
        _cancel_interrupted(services, submission.tally.run_id, options.say)
        raise


def _wait(
    services: Services,
    watch: RunWatch,
    tally: Tally,
    bar: ProgressBar,
    options: RunOptions,
    *,
    fleet: LocalWorkers | None,
) -> None:
    seen, sent = sum(tally.seen.values()), sum(tally.sent.values())

    def show(state: RunState) -> None:
        bar.update(Progress(seen, sent, state.files_done, "waiting", tally.targets_read, tally.targets))

    idle = None if fleet is not None else IdleFleet(services.redis_url, options.say, run_id=tally.run_id)
    try:
        wait_for(watch, tally.run_id, show, fleet=fleet, idle=idle)
    except KeyboardInterrupt:
        interrupts.caught()
        if fleet is None:  # the fleet goes on without this process
            options.say(f"stopped waiting; run {tally.run_id} goes on (parsefleet report / parsefleet cancel)")
        else:
            _cancel_interrupted(services, tally.run_id, options.say)
        raise


def _cancel_interrupted(services: Services, run_id: str, say: Callable[[str], None]) -> None:
    """Cancel the run of an interrupted command; a failure to do so is said, not raised."""
    try:
        done = _cancel(services, run_id)
    except ParsefleetError as exc:
        say(f"parsefleet: interrupted; run {run_id} could not be cancelled: {exc}")
        return
    say(f"parsefleet: interrupted; {done.render()}")
