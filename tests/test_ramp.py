"""The ramp controller in compressed time, against real Redis and real PostgreSQL / TimescaleDB data.

Each test writes batch_results and cli_runs rows with chosen durations at chosen (fake-clock)
times, three hours in the past, then runs ``parsefleet telemetry ramp`` (parsefleet.telemetry.rollout.ramp)
with an injected clock and sleep: two hours of ramp take a few seconds. The flag in Redis is
read at every sleep, so the tests see what a worker would have seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import redis

from parsefleet.contract.errors import RampError
from parsefleet.contract.names import TELEMETRY_FLAG
from parsefleet.contract.settings import Settings
from parsefleet.telemetry import rollout
from parsefleet.telemetry.ramp import RampOutcome, RampPlan

pytestmark = pytest.mark.service

BASE_MS = 100.0
CLI_MS = 400.0
BATCH_EVERY_S = 10
CLI_EVERY_S = 30
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)  # the ramp starts here (fake time)


class FakeTime:
    """The injected clock and sleep; every sleep notes the flag as Redis holds it then."""

    def __init__(self, client: redis.Redis) -> None:
        self.now = T0
        self.client = client
        self.flag: list[tuple[float, int]] = []  # (minutes since T0, pct)

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        raw = self.client.get(TELEMETRY_FLAG)
        self.flag.append(((self.now - T0).total_seconds() / 60, int(raw or 0)))


def _seed(database_url: str, batch_ms: Callable[[float], float], cli_ms: Callable[[float], float]) -> None:
    """Rows from T0 - 1 h to T0 + 2 h; the duration functions take minutes since T0."""
    start, end = T0 - timedelta(hours=1), T0 + timedelta(hours=2)
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY batch_results (batch_id, run_id, language, files, parsed, partial, fallback, failed, symbols,"
            " duration_ms, worker, finished_at) FROM STDIN"
        ) as copy:
            at = start
            while at < end:
                minutes = (at - T0).total_seconds() / 60
                copy.write_row(
                    (str(uuid.uuid4()), uuid.uuid4(), "python", 1, 1, 0, 0, 0, 1, batch_ms(minutes), "w", at)
                )
                at += timedelta(seconds=BATCH_EVERY_S)
        with cursor.copy("COPY cli_runs (time, command, duration_ms, exit_code, ci) FROM STDIN") as copy:
            at = start
            while at < end:
                copy.write_row((at, "submit", cli_ms((at - T0).total_seconds() / 60), 0, True))
                at += timedelta(seconds=CLI_EVERY_S)


def _steady(_minutes: float) -> float:
    return BASE_MS


def _cli_steady(_minutes: float) -> float:
    return CLI_MS


def _decisions(database_url: str) -> list[tuple[float, str, int | None, int | None]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT time, action, pct_from, pct_to FROM telemetry_decisions ORDER BY time, action")
        return [(round((at - T0).total_seconds() / 60, 3), action, old, new) for at, action, old, new in rows]


@pytest.fixture(params=["postgresql", "timescaledb"])
def backend(request: pytest.FixtureRequest, clean_redis: redis.Redis, redis_url: str, tmp_path: Path) -> Settings:
    database_url = request.getfixturevalue("clean_db" if request.param == "postgresql" else "tsdb_url")
    return Settings.from_env({}, redis_url=redis_url, database_url=database_url, data_dir=tmp_path / "data")


def _ramp(settings: Settings, time: FakeTime, *, snapshot: bool = False) -> RampOutcome:
    lines: list[str] = []
    outcome = rollout.ramp(
        settings, RampPlan(), take_snapshot_first=snapshot, echo=lines.append, clock=time.clock, sleep=time.sleep
    )
    assert lines and "start" in lines[0]  # every decision is echoed as it is taken
    return outcome


def test_steady_figures_ramp_to_100_within_45_minutes(backend: Settings, clean_redis: redis.Redis) -> None:
    assert backend.database_url
    _seed(backend.database_url, _steady, _cli_steady)
    time = FakeTime(clean_redis)
    outcome = _ramp(backend, time, snapshot=True)
    assert outcome.status == "done" and outcome.pct == 100
    assert clean_redis.get(TELEMETRY_FLAG) == b"100"
    assert len(list((backend.data_dir / "snapshots").glob("telemetry-*.dump"))) == 1
    steps = [(minutes, new) for minutes, action, _old, new in _decisions(backend.database_url) if action == "advance"]
    assert steps == [(0.0, 25), (15.0, 75), (30.0, 100)]
    actions = [action for _m, action, _o, _n in _decisions(backend.database_url)]
    assert actions[:4] == ["start", "baseline", "snapshot", "advance"] and actions[-1] == "done"
    assert "breach" not in actions and "rollback" not in actions
    assert max(minutes for minutes, _pct in time.flag) <= 45  # held 100% for its hold too, then done
    assert all(pct == 25 for minutes, pct in time.flag if minutes < 15)
    assert all(pct == 75 for minutes, pct in time.flag if 15 < minutes < 30)


def test_variance_between_5_and_7_percent_holds_then_advances(backend: Settings, clean_redis: redis.Redis) -> None:
    assert backend.database_url
    _seed(backend.database_url, lambda m: BASE_MS * 1.06 if 10 <= m < 40 else BASE_MS, _cli_steady)
    time = FakeTime(clean_redis)
    outcome = _ramp(backend, time)
    assert outcome.status == "done"
    decisions = _decisions(backend.database_url)
    advance_to_75 = next(minutes for minutes, action, _o, new in decisions if action == "advance" and new == 75)
    assert advance_to_75 > 50  # held past its 15 minutes until the last 15 minutes were back within 5%
    assert all(pct == 25 for minutes, pct in time.flag if minutes < advance_to_75)  # never rolled back
    assert not any(action in {"breach", "rollback"} for _m, action, _o, _n in decisions)
    assert any(action == "hold" for _m, action, _o, _n in decisions)


@pytest.mark.parametrize("slow", ["batch", "cli"])
def test_variance_beyond_7_percent_for_10_minutes_rolls_back(
    backend: Settings, clean_redis: redis.Redis, slow: str
) -> None:
    assert backend.database_url

    def worse(base: float) -> Callable[[float], float]:
        return lambda minutes: base * 1.10 if minutes >= 20 else base

    _seed(
        backend.database_url,
        worse(BASE_MS) if slow == "batch" else _steady,
        worse(CLI_MS) if slow == "cli" else _cli_steady,
    )
    time = FakeTime(clean_redis)
    outcome = _ramp(backend, time)
    assert outcome.status == "rolled back" and outcome.pct == 0
    assert clean_redis.get(TELEMETRY_FLAG) == b"0"
    decisions = _decisions(backend.database_url)
    breach = next(minutes for minutes, action, _o, _n in decisions if action == "breach")
    rollback = next((minutes, old, new) for minutes, action, old, new in decisions if action == "rollback")
    assert 20 <= breach <= 22  # seen at the first check or two (the 5-minute window fills up)
    assert rollback[1:] == (75, 0)
    assert 30 <= rollback[0] <= 20 + 10 + 5  # 10 minutes of breach, then 0% within 5 minutes
    # the last check saw 75%, and the rollback set 0% at that check (asserted on Redis above)
    assert time.flag[-1][1] == 75 and time.flag[-1][0] == pytest.approx(rollback[0], abs=0.01)
    assert not any(action == "advance" and new == 100 for _m, action, _o, new in decisions)


def test_a_breach_that_ends_before_10_minutes_does_not_roll_back(
    clean_db: str, clean_redis: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings.from_env({}, redis_url=redis_url, database_url=clean_db, data_dir=tmp_path)
    _seed(clean_db, lambda m: BASE_MS * 1.2 if 5 <= m < 9 else BASE_MS, _cli_steady)
    time = FakeTime(clean_redis)
    outcome = _ramp(settings, time)
    assert outcome.status == "done"
    actions = [action for _m, action, _o, _n in _decisions(clean_db)]
    assert "breach" in actions and "rollback" not in actions


def test_the_ramp_stops_when_someone_else_sets_the_flag(
    clean_db: str, clean_redis: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings.from_env({}, redis_url=redis_url, database_url=clean_db, data_dir=tmp_path)
    _seed(clean_db, _steady, _cli_steady)
    time = FakeTime(clean_redis)

    def sleep_then_roll_back(seconds: float) -> None:
        time.sleep(seconds)
        if time.now - T0 >= timedelta(minutes=20):
            rollout.rollback(settings)  # `parsefleet telemetry rollback` during the 75% step

    outcome = rollout.ramp(
        settings,
        RampPlan(),
        take_snapshot_first=False,
        echo=lambda _line: None,
        clock=time.clock,
        sleep=sleep_then_roll_back,
    )
    assert outcome.status == "aborted"
    assert clean_redis.get(TELEMETRY_FLAG) == b"0"
    actions = [action for _m, action, _o, _n in _decisions(clean_db)]
    assert set(actions[-2:]) == {"rollback", "abort"} and "done" not in actions  # the rollback at real time


def test_no_baseline_or_a_raised_flag_refuses_to_start(
    clean_db: str, clean_redis: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings.from_env({}, redis_url=redis_url, database_url=clean_db, data_dir=tmp_path)
    time = FakeTime(clean_redis)
    with pytest.raises(RampError, match="batches in the baseline window"):
        _ramp(settings, time)
    assert clean_redis.get(TELEMETRY_FLAG) is None  # untouched
    _seed(clean_db, _steady, _cli_steady)
    clean_redis.set(TELEMETRY_FLAG, "25")
    with pytest.raises(RampError, match="starts from 0%"):
        _ramp(settings, time)
    assert clean_redis.get(TELEMETRY_FLAG) == b"25"
    assert [action for _m, action, _o, _n in _decisions(clean_db)].count("abort") == 2


def test_go_live_variance_report_passes_then_fails_on_failures(backend: Settings, clean_redis: redis.Redis) -> None:
    assert backend.database_url
    _seed(backend.database_url, _steady, _cli_steady)
    assert _ramp(backend, FakeTime(clean_redis)).status == "done"
    report = rollout.variance(backend, at="1h", since=None, until=None)
    assert report.go_live == T0 + timedelta(minutes=30)
    assert report.since == report.go_live and report.until == report.go_live + timedelta(hours=1)
    assert not report.partial and report.passed, report.render()
    assert report.checks[0].value == pytest.approx(0.0)
    with psycopg.connect(backend.database_url) as conn:
        for minute in (40, 41, 42):  # 3 parser failures inside the first hour after go-live
            conn.execute(
                "INSERT INTO parse_failures (time, run_id, batch_id, repository_id, path, language, kind, message)"
                " VALUES (%s, gen_random_uuid(), 'b', 1, 'x.py', 'python', 'timeout', 'm')",
                (T0 + timedelta(minutes=minute),),
            )
    failed = rollout.variance(backend, at="1h", since=None, until=None)
    assert not failed.passed
    assert failed.failures_worst_hour == 3
    assert [check.status for check in failed.checks] == ["pass", "pass", "fail", "pass"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    env.update({"PARSEFLEET_DATABASE_URL": backend.database_url, "PARSEFLEET_DATA_DIR": str(backend.data_dir)})
    command = [sys.executable, "-m", "parsefleet.cli.main", "telemetry", "variance", "--json"]
    done = subprocess.run([*command, "--at", "1h"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and json.loads(done.stdout)["passed"] is False
    later = (T0 + timedelta(minutes=95)).isoformat()  # a window after those failures passes
    done = subprocess.run(
        [*command, "--since", later], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_interrupted_ramp_leaves_the_flag_at_0(
    clean_db: str, clean_redis: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings.from_env({}, redis_url=redis_url, database_url=clean_db, data_dir=tmp_path)
    _seed(clean_db, _steady, _cli_steady)
    time = FakeTime(clean_redis)

    def sleep_then_interrupt(seconds: float) -> None:
        time.sleep(seconds)
        if time.now - T0 >= timedelta(minutes=20):
            raise KeyboardInterrupt  # the operator's Ctrl-C during the 75% step

    with pytest.raises(KeyboardInterrupt):
        rollout.ramp(
            settings,
            RampPlan(),
            take_snapshot_first=False,
            echo=lambda _line: None,
            clock=time.clock,
            sleep=sleep_then_interrupt,
        )
    assert clean_redis.get(TELEMETRY_FLAG) == b"0"
    last = _decisions(clean_db)[-1]
    assert last[1:] == ("rollback", 75, 0)
