"""What the ``flag`` and ``telemetry`` commands do: the Step 2 telemetry rollout.

The flag lives in Redis (the configured one, or the embedded one, started if need be); decisions,
figures and snapshots in PostgreSQL. A rollback touches Redis first and records its decision
afterwards, best effort: setting 0% must work while the database is down.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from parsefleet.contract.errors import ConfigError, ParsefleetError, RolloutNotFound
from parsefleet.contract.names import METRIC_PARSER_DURATION_MS, METRIC_PARSER_FAILURE_TOTAL, TELEMETRY_FLAG
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import redis_client
from parsefleet.plumbing.database import session, sql
from parsefleet.plumbing.migrations import migrate
from parsefleet.services.endpoints import Services
from parsefleet.telemetry.decisions import Decision, DecisionLog, go_live, latest_baseline
from parsefleet.telemetry.emission import EmissionLedger, hour_of
from parsefleet.telemetry.figures import Figures, measure
from parsefleet.telemetry.flag import FlagState, TelemetryFlag, parse_pct
from parsefleet.telemetry.ramp import RampController, RampOutcome, RampPlan
from parsefleet.telemetry.reconciliation import Reconciliation, reconcile
from parsefleet.telemetry.snapshot import Snapshot, take_snapshot
from parsefleet.telemetry.variance import CHECKPOINTS_H, VarianceReport, build_report

__all__ = [
    "RevertPlan",
    "flag_get",
    "flag_set",
    "parse_duration_s",
    "parse_time",
    "ramp",
    "ramp_plan",
    "reconcile_hours",
    "revert",
    "rollback",
    "snapshot",
    "variance",
]

_HERE = Path(__file__).parent
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh])$")
_UNITS_S = {"s": 1, "m": 60, "h": 3600}


def parse_duration_s(text: str) -> float:
    """``90s``, ``15m`` or ``1h`` in seconds; ConfigError otherwise."""
    match = _DURATION.match(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"a duration must look like 90s, 15m or 1h, got {text!r}")
    return float(match.group(1)) * _UNITS_S[match.group(2)]


def ramp_plan(
    steps: str, *, hold: str, baseline: str, check_every: str, breach_for: str, give_up_after: str
) -> RampPlan:
    """A RampPlan from command-line text (steps ``25,75,100``, durations ``15m``); ConfigError when unusable."""
    try:
        steps_pct = tuple(int(part) for part in steps.split(","))
    except ValueError:
        raise ConfigError(f"--steps must list percentages like 25,75,100, got {steps!r}") from None
    return RampPlan(
        steps_pct=steps_pct,
        hold_s=parse_duration_s(hold),
        baseline_window_s=parse_duration_s(baseline),
        check_interval_s=parse_duration_s(check_every),
        breach_s=parse_duration_s(breach_for),
        max_duration_s=parse_duration_s(give_up_after),
    ).validated()


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (UTC when it names no zone); ConfigError otherwise."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"a time must be ISO 8601 (2025-01-31T12:00:00Z), got {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@contextmanager
def _redis_url(settings: Settings) -> Iterator[str]:
    """The Redis of the flag: the configured one, or the embedded one (started if need be)."""
    with Services(settings, need_database=False) as services:
        yield services.redis_url


@contextmanager
def _flag(settings: Settings) -> Iterator[tuple[TelemetryFlag, str]]:
    with _redis_url(settings) as url:
        client = redis_client(url)
        try:
            yield TelemetryFlag(client, url), url
        finally:
            client.close()


@contextmanager
def _database(settings: Settings) -> Iterator[str]:
    """The database URL, schema migrated."""
    with Services(settings, need_redis=False) as services:
        migrate(services.database_url)
        yield services.database_url


def flag_get(settings: Settings) -> FlagState:
    """The stored flag."""
    with _flag(settings) as (flag, _url):
        return flag.read()


def flag_set(settings: Settings, text: str, *, enable_step2: bool) -> tuple[FlagState, FlagState, str | None]:
    """Set the flag; return the state before and after, and why the decision was not recorded (or None)."""
    pct = parse_pct(text)
    with _flag(settings) as (flag, _url):
        before = flag.set_pct(pct, enable_step2=enable_step2)
        after = flag.read()
    detail = "flag set" + (" --enable-step2" if enable_step2 else "")
    return before, after, _record_quietly(settings, Decision("set", before.pct, pct, detail=detail))


def rollback(settings: Settings) -> tuple[FlagState, str | None]:
    """Set 0% at once; return the state before, and why the decision was not recorded (or None)."""
    with _flag(settings) as (flag, _url):
        before = flag.set_pct(0)
    return before, _record_quietly(settings, Decision("rollback", before.pct, 0, detail="by command"))


def _record_quietly(settings: Settings, decision: Decision) -> str | None:
    try:
        with _database(settings) as url:
            DecisionLog(url).record(decision, datetime.now(UTC))
    except ParsefleetError as exc:
        return str(exc)
    return None


@dataclass(frozen=True, slots=True)
class RevertPlan:
    """What ``telemetry revert`` does (or, with --dry-run, would do)."""

    before: FlagState
    drop_since: datetime | None
    rows: int
    steps: tuple[str, ...]


def revert(settings: Settings, *, dry_run: bool, drop_data: bool) -> RevertPlan:
    """Back to the Step 1 collectors entirely; with ``dry_run`` only say what would be done."""
    with _flag(settings) as (flag, redis_url), _database(settings) as database_url:
        before = flag.read_lenient()
        plan = _revert_plan(database_url, before, drop_data)
        if dry_run:
            return plan
        flag.revert()
        decisions = DecisionLog(database_url)
        decisions.record(Decision("revert", before.pct, 0, detail="Step 2 reverted"), datetime.now(UTC))
        if plan.drop_since is not None:
            shot = snapshot(settings)  # no snapshot, no delete
            with session(database_url) as conn:
                deleted = conn.execute(sql(_HERE, "step2_delete"), {"since": plan.drop_since}).rowcount
            hours = _hours(plan.drop_since, datetime.now(UTC))
            EmissionLedger(redis_url).forget(hours, (METRIC_PARSER_DURATION_MS, METRIC_PARSER_FAILURE_TOTAL))
            detail = f"{deleted} batch_metrics rows since {plan.drop_since.isoformat()} deleted; snapshot {shot.path}"
            decisions.record(Decision("revert", 0, 0, detail=detail), datetime.now(UTC))
        return plan


def _revert_plan(database_url: str, before: FlagState, drop_data: bool) -> RevertPlan:
    since: datetime | None = None
    rows = 0
    with session(database_url) as conn:
        if drop_data:
            row = conn.execute(sql(_HERE, "latest_ramp_start")).fetchone()
            since = row[0] if row is not None and isinstance(row[0], datetime) else None
        if since is not None:
            counted = conn.execute(sql(_HERE, "step2_rows"), {"since": since}).fetchone()
            rows = int(str(counted[0])) if counted else 0
    steps = [
        f"set {TELEMETRY_FLAG} {before.pct}% -> 0%",
        "mark Step 2 reverted: workers and the CLI leave Step 2 within 10 s whatever the percentage; "
        "`parsefleet flag set PCT --enable-step2` turns it on again",
    ]
    if since is not None:
        steps.append(f"snapshot the telemetry tables, then delete {rows} batch_metrics rows since {since.isoformat()}")
    elif drop_data:
        steps.append("no ramp recorded: no Step 2 rows to delete")
    else:
        steps.append("keep Step 2 rows (batch_metrics; cli_runs.step2): retention removes them in time")
    steps.append("record the decision in telemetry_decisions")
    return RevertPlan(before, since, rows, tuple(steps))


def _hours(since: datetime, until: datetime) -> list[datetime]:
    start, end = hour_of(since), hour_of(until)
    return [start + timedelta(hours=index) for index in range(int((end - start).total_seconds() // 3600) + 1)]


def snapshot(settings: Settings) -> Snapshot:
    """pg_dump of the telemetry tables into ``<data_dir>/snapshots``; older snapshots pruned."""
    with _database(settings) as url:
        return take_snapshot(
            url,
            settings.data_dir / "snapshots",
            keep=timedelta(hours=settings.snapshot_keep_h),
            pg_dump_path=settings.pg_dump_path,
        )


def ramp(
    settings: Settings,
    plan: RampPlan,
    *,
    take_snapshot_first: bool,
    echo: Callable[[str], None],
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RampOutcome:
    """Run one ramp to its end (about 45 minutes with the default plan)."""
    with _flag(settings) as (flag, _url), _database(settings) as url:

        def measured(since: datetime, until: datetime) -> Figures:
            with session(url) as conn:
                return measure(conn, since, until)

        controller = RampController(
            plan,
            flag,
            measured,
            DecisionLog(url, echo=echo),
            clock=clock or (lambda: datetime.now(UTC)),
            sleep=sleep,
            snapshot=(lambda: snapshot(settings).path) if take_snapshot_first else None,
        )
        return controller.run()


def variance(
    settings: Settings, *, at: str | None, since: datetime | None, until: datetime | None, now: datetime | None = None
) -> VarianceReport:
    """The validation report: ``at`` hours after go-live (1h, 12h, 24h, 48h), or [since, until]."""
    current = now or datetime.now(UTC)
    with _database(settings) as url:
        if since is not None:
            end = until or current
            baseline = latest_baseline(url, since)
            if baseline is None:
                raise RolloutNotFound("no ramp has measured a baseline before that window")
            live_at, note = None, ""
        else:
            live = go_live(url)
            if live is None or live.baseline is None:
                raise RolloutNotFound("no ramp has reached 100% yet (`parsefleet telemetry ramp`); give --since")
            live_at, baseline, since = live.at, live.baseline, live.at
            end = live.at + timedelta(hours=CHECKPOINTS_H[at]) if at else current
            undone = live.undone_at if live.undone_at is not None and live.undone_at <= end else None
            note = f"Step 2 rolled back at {undone.isoformat()}" if undone else ""
        with session(url) as conn:
            return build_report(conn, since, end, baseline, now=current, go_live=live_at, note=note)


def reconcile_hours(settings: Settings, hours: int) -> Reconciliation:
    """Emitted against stored Step 2 figures, per hour, over the last ``hours`` hours."""
    if hours <= 0:
        raise ConfigError(f"--hours must be positive, got {hours}")
    now = datetime.now(UTC)
    with _redis_url(settings) as redis_url, _database(settings) as url, session(url) as conn:
        return reconcile(conn, EmissionLedger(redis_url), now - timedelta(hours=hours - 1), now)
