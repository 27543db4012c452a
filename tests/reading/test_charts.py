"""The charts' figures on plain PostgreSQL (date_trunc) and on TimescaleDB (time_bucket): the same
buckets, and a p95 per language that is the p95 of the batches the ledger holds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import redis

from parsefleet.contract.settings import Settings
from parsefleet.reading.charts import load_charts, timescaledb
from parsefleet.services.local_workers import LocalWorkers
from tests.reading.indexed import index

pytestmark = pytest.mark.service


@pytest.fixture(params=["postgresql", "timescaledb"])
def chart_database(request: pytest.FixtureRequest, clean_db: str) -> tuple[str, bool]:
    """A migrated database, and whether it is TimescaleDB: the session's plain PostgreSQL, or a
    fresh database on TimescaleDB."""
    if request.param == "postgresql":
        return clean_db, False
    return str(request.getfixturevalue("tsdb_url")), True


def test_latency_and_failure_charts_on_both_backends(
    chart_database: tuple[str, bool], redis_url: str, clean_redis: redis.Redis, repo: Path, tmp_path: Path
) -> None:
    database_url, on_timescaledb = chart_database
    (repo / "python" / "large.py").write_text("def f():\n    return [1, 2, 3]\n" * 8000)  # over 64 KiB: watched
    settings = Settings.from_env({}, redis_url=redis_url, database_url=database_url, data_dir=tmp_path / "data")
    env = {"PARSEFLEET_PARSE_TIMEOUT_S": "0.0001"}  # a deadline the large file cannot meet: a timeout failure
    fleet = LocalWorkers(redis_url, database_url, tmp_path / "logs", count=1, env=env)
    fleet.start()
    try:
        index(settings, repo)
    finally:
        fleet.stop()
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with psycopg.connect(database_url) as conn:
        assert timescaledb(conn) is on_timescaledb
        latency, failures = load_charts(conn, "24h", datetime.now(UTC))
        rows = conn.execute(
            "SELECT language, percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms), count(*)"
            "  FROM batch_results WHERE files > 0 GROUP BY language"
        ).fetchall()
        failed = conn.execute(
            "SELECT language, count(*) FROM parse_failures WHERE batch_id IS NOT NULL GROUP BY language"
        ).fetchall()
    assert (latency.metric, latency.bucket, failures.bucket) == ("parser_duration_ms p95", "hour", "hour")
    got = {s.language: s.points for s in latency.series}
    assert set(got) == {"python", "go", "rust"}
    for language, p95, samples in rows:
        [(at, value, count)] = got[str(language)]
        assert at in {hour, hour.replace(hour=(hour.hour - 1) % 24)}  # the run may straddle an hour
        assert value == pytest.approx(float(p95)) and count == samples
    assert {s.language: sum(p[1] for p in s.points) for s in failures.series} == {
        str(language): float(count) for language, count in failed
    }
    assert ("python", 1) in [(str(language), int(count)) for language, count in failed]
