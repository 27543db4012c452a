"""The same schema, pipeline and dashboard queries on a real TimescaleDB (infra/dev/timescaledb).

The ``tsdb_url`` fixture (tests/conftest.py) gives a fresh database on it.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import redis

from parsefleet.cli import commands
from parsefleet.contract.names import TELEMETRY_FLAG
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.migrations import migrate
from parsefleet.services.local_workers import LocalWorkers
from tests.conftest import FIXTURES

pytestmark = pytest.mark.service

QUERIES = Path(__file__).resolve().parents[1] / "infra" / "grafana" / "queries"


def test_migrations_make_hypertables_of_the_measurements(tsdb_url: str) -> None:
    assert migrate(tsdb_url) == []  # idempotent
    with psycopg.connect(tsdb_url) as conn:
        tables = {row[0] for row in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")}
        plain = conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name IN ('symbols', 'blobs')"
        ).fetchone()
    assert tables == {"batch_metrics", "parse_failures", "cli_runs", "telemetry_decisions", "fleet_samples"}
    assert plain == (0,)


def test_pipeline_report_and_dashboard_queries_on_timescaledb(
    tsdb_url: str, redis_url: str, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    clean_redis.set(TELEMETRY_FLAG, "100")  # Step 2 for every batch: batch_metrics chunks, queue wait panel
    settings = Settings.from_env({}, redis_url=redis_url, database_url=tsdb_url, data_dir=tmp_path / "data")
    fleet = LocalWorkers(redis_url, tsdb_url, tmp_path / "logs")
    fleet.start()
    try:
        report = commands.submit(settings, [FIXTURES], commands.RunOptions(ci=True, progress=False, wait=True))
    finally:
        fleet.stop()
    assert report.state.finished
    assert {item.language for item in report.languages} == {"python", "go", "rust"}
    assert all(item.accounted and item.p95_ms is not None for item in report.languages)
    queries = sorted(QUERIES.glob("*.sql"))
    assert queries
    with psycopg.connect(tsdb_url) as conn:
        chunks = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'batch_metrics'"
        ).fetchone()
        assert chunks is not None and chunks[0] >= 1
        results = {path.name: conn.execute(path.read_text()).fetchall() for path in queries}
    latency = next(rows for name, rows in results.items() if "latency_p50_p95" in name)
    assert {row[1] for row in latency} == {"python", "go", "rust"}
