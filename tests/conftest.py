"""Real-service fixtures: Redis, PostgreSQL and Celery worker processes.

Tests that need a service skip when it is missing on a developer's machine, and fail under
CI=true (a CI run must never pass by skipping). Every test database is created fresh for the
session and dropped at the end; Redis test DB and tables are cleaned before each test.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from common.settings import Settings
from parsefleet.fleet import LocalWorkers
from parsefleet.migrations import scratch_database

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_REDIS_URL = os.environ.get("PARSEFLEET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_PG_ADMIN_URL = os.environ.get("PARSEFLEET_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FIXTURES = Path(__file__).parent / "fixtures"
# A real TimescaleDB (infra/dev/timescaledb start); .ci/run starts one and sets this.
TSDB_ADMIN_URL = os.environ.get("PARSEFLEET_TEST_TIMESCALEDB_URL", "")


def unavailable(what: str, exc: Exception) -> None:
    """Fail under CI, skip elsewhere."""
    message = f"{what} is not reachable ({exc})"
    if IN_CI:
        pytest.fail(f"{message}: CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {TEST_REDIS_URL}", exc)
    return TEST_REDIS_URL


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _require(url: str, what: str) -> None:
    """Fail (CI) or skip unless the PostgreSQL server of ``url`` answers."""
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        unavailable(f"{what} at {url}", exc)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    _require(TEST_PG_ADMIN_URL, "PostgreSQL")
    with scratch_database(TEST_PG_ADMIN_URL, "parsefleet_test") as url:
        yield url


_TABLES = (
    "repositories, runs, run_inputs, run_skips, batches, batch_results, files, blobs, symbols, imports,"
    " batch_metrics, parse_failures, cli_runs, telemetry_decisions"
)


@pytest.fixture
def clean_db(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {_TABLES} CASCADE")
    return database_url


@pytest.fixture
def settings(tmp_path: Path, clean_redis: redis.Redis, clean_db: str, redis_url: str) -> Settings:
    return Settings.from_env({}, redis_url=redis_url, database_url=clean_db, data_dir=tmp_path / "data")


@pytest.fixture
def statsd_server() -> Iterator[socket.socket]:
    """A UDP socket standing in for statsd; tests read the real packets the workers send."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(30)
    yield server
    server.close()


@pytest.fixture
def worker(settings: Settings, tmp_path: Path, statsd_server: socket.socket) -> Iterator[LocalWorkers]:
    """One real Celery worker process (prefork pool) on the test Redis and PostgreSQL."""
    assert settings.redis_url and settings.database_url
    host, port = statsd_server.getsockname()
    env = {"PARSEFLEET_STATSD_ADDR": f"{host}:{port}"}
    fleet = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs", count=1, env=env)
    fleet.start()
    yield fleet
    fleet.stop()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the fixture repository that a test may change."""
    target = tmp_path / "repo"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture
def tsdb_url() -> Iterator[str]:
    if not TSDB_ADMIN_URL:
        unavailable("TimescaleDB (PARSEFLEET_TEST_TIMESCALEDB_URL unset; run infra/dev/timescaledb start)", OSError())
    _require(TSDB_ADMIN_URL, "TimescaleDB")
    with scratch_database(TSDB_ADMIN_URL, "parsefleet_tsdb") as url:
        yield url
