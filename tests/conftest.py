"""Real-service fixtures: Redis, PostgreSQL and Celery worker processes.

The tests use only services they start or are pointed at. By default the session starts its own
embedded Redis and PostgreSQL (the product's own: parsefleet.services) in a private temporary
directory and stops them at the end; PARSEFLEET_TEST_REDIS_URL (a Redis database the tests may
flush) and PARSEFLEET_TEST_DATABASE_URL (a server where they may create and drop databases) point
them at servers of your choosing instead. Each session creates a fresh database and drops it at
the end; Redis and the tables are cleaned before each test.

A test that needs a service it cannot have skips with the reason on a developer's machine, and
fails under CI=true (a CI run must never pass by skipping).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from parsefleet.contract.errors import ParsefleetError
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.migrations import scratch_database
from parsefleet.services.endpoints import Services, stop_unused
from parsefleet.services.local_workers import LocalWorkers

ROOT = Path(__file__).resolve().parents[1]
# A python the service account can run under root (the repository's may live in a closed home).
BASE_PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
_INSTALL_TIMEOUT_S = 900
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CONFIGURED_REDIS_URL = os.environ.get("PARSEFLEET_TEST_REDIS_URL", "")
CONFIGURED_PG_URL = os.environ.get("PARSEFLEET_TEST_DATABASE_URL", "")
FIXTURES = Path(__file__).parent / "fixtures"
# A real TimescaleDB (infra/dev/timescaledb start); `make test` starts one where it can (root and
# Debian's package tools) and sets the URL, or the reason it could not.
TSDB_ADMIN_URL = os.environ.get("PARSEFLEET_TEST_TIMESCALEDB_URL", "")
TSDB_MISSING = os.environ.get("PARSEFLEET_TEST_TIMESCALEDB_MISSING", "")


# Test sessions and their commands killed with SIGKILL leave their embedded services running in a
# temporary directory nobody comes back to: each session stops those nobody uses any more.
_ORPHAN_PREFIXES = ("parsefleet-test-", "parsefleet-data-")
_ORPHAN_AGE_S = 300  # younger: a session may be between creating its directory and starting services


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop and remove the embedded services of earlier sessions that were killed."""
    for prefix in _ORPHAN_PREFIXES:
        for directory in Path(tempfile.gettempdir()).glob(prefix + "*"):
            _reap(directory)


def _reap(directory: Path) -> None:
    try:
        info = directory.lstat()
        if info.st_uid != os.geteuid() or time.time() - info.st_mtime < _ORPHAN_AGE_S:
            return
        stopped = stop_unused(Settings.from_env({}, data_dir=directory))
    except (OSError, ParsefleetError):
        return
    if stopped or (stopped is None and (directory / "services.lock").exists()):  # nobody uses it
        shutil.rmtree(directory, ignore_errors=True)


def unavailable(what: str, exc: Exception) -> None:
    """Fail under CI, skip elsewhere."""
    message = f"{what} is not reachable ({exc})"
    if IN_CI:
        pytest.fail(f"{message}: CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def embedded_services() -> Iterator[Services]:
    """This session's own embedded Redis and PostgreSQL, in a private temporary directory."""
    directory = Path(tempfile.mkdtemp(prefix="parsefleet-test-"))
    settings = Settings.from_env({}, data_dir=directory)
    try:
        with Services(settings) as services:
            yield services
    except ParsefleetError as exc:
        unavailable("an embedded Redis and PostgreSQL", exc)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    """A data directory for a test's own embedded services (one the service account can reach under
    root, unlike pytest's tmp_path), deleted afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="parsefleet-data-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    if not CONFIGURED_REDIS_URL:
        return str(request.getfixturevalue("embedded_services").redis_url)
    try:
        redis.Redis.from_url(CONFIGURED_REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {CONFIGURED_REDIS_URL} (PARSEFLEET_TEST_REDIS_URL)", exc)
    return CONFIGURED_REDIS_URL


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
def postgres_server_url(request: pytest.FixtureRequest) -> str:
    """A URL of a PostgreSQL server on which the tests may create and drop databases."""
    if not CONFIGURED_PG_URL:
        return str(request.getfixturevalue("embedded_services").database_url)
    _require(CONFIGURED_PG_URL, "PostgreSQL (PARSEFLEET_TEST_DATABASE_URL)")
    return CONFIGURED_PG_URL


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    with scratch_database(postgres_server_url, "parsefleet_test") as url:
        yield url


_TABLES = (
    "repositories, runs, run_inputs, run_skips, batches, batch_results, files, blobs, symbols, imports,"
    " batch_metrics, parse_failures, cli_runs, telemetry_decisions, fleet_samples, repository_commits, file_versions"
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
    env = {"PARSEFLEET_STATSD_ADDR": f"{host}:{port}", "PARSEFLEET_LOG_LEVEL": "INFO"}
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
        why = TSDB_MISSING or "PARSEFLEET_TEST_TIMESCALEDB_URL unset; `make test` starts one as root"
        unavailable("TimescaleDB", OSError(why))
    _require(TSDB_ADMIN_URL, "TimescaleDB")
    with scratch_database(TSDB_ADMIN_URL, "parsefleet_tsdb") as url:
        yield url


@pytest.fixture(scope="session")
def wheel() -> Iterator[Path]:
    """The project's wheel, built from this checkout."""
    out = Path(tempfile.mkdtemp(prefix="parsefleet-wheel-"))
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
            check=True,
            capture_output=True,
            timeout=_INSTALL_TIMEOUT_S,
        )
        yield next(out.glob("parsefleet-*.whl"))
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="session")
def installed(wheel: Path) -> Iterator[Path]:
    """A fresh venv (outside the repository) with the wheel installed; its bin directory."""
    venv = Path(tempfile.mkdtemp(prefix="parsefleet-venv-"))
    venv.chmod(0o755)  # under root, the local workers run as the service account: it must reach the venv
    try:
        subprocess.run([BASE_PYTHON, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)],
            check=True,
            capture_output=True,
            timeout=_INSTALL_TIMEOUT_S,
        )
        yield venv / "bin"
    finally:
        shutil.rmtree(venv, ignore_errors=True)
