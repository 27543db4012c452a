"""Redis with a password and TLS (rediss://): a real run works, the certificate is checked, and the
password appears in no log, output or error.

A private redis-server (tests/services.py) listens with TLS only, on a certificate signed by a CA
made here with openssl; clients trust that CA through ``ssl_ca_certs`` in the URL, which redis-py
(producer, CLI) and kombu (Celery) both read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from parsefleet.services.local_workers import LocalWorkers
from tests.accounting import many_files
from tests.services import RedisServer, TlsFiles

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.timeout(300)]

_PASSWORD = "tls-" + os.urandom(12).hex()
_FILES = 500


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", password=_PASSWORD, tls=TlsFiles.make(tmp_path / "tls"))
    server.start()
    yield server
    server.kill()


def _cli(args: list[str], redis_url: str, database_url: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    env = {
        **clean,
        "PARSEFLEET_REDIS_URL": redis_url,
        "PARSEFLEET_DATABASE_URL": database_url,
        "PARSEFLEET_LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "-m", "parsefleet.cli.main", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, check=False)


def test_a_run_over_rediss_with_a_password_never_shows_the_password(
    tls_redis: RedisServer, clean_db: str, tmp_path: Path
) -> None:
    repo = many_files(tmp_path / "repo", _FILES)
    fleet = LocalWorkers(tls_redis.url, clean_db, tmp_path / "logs")
    fleet.start()
    try:
        run = _cli(["submit", str(repo), "--wait", "--no-progress", "--json", "-"], tls_redis.url, clean_db)
        status = _cli(["status"], tls_redis.url, clean_db)
        dead = _cli(["dead-letter", "list"], tls_redis.url, clean_db)
    finally:
        fleet.stop()
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout[run.stdout.index("{") :])
    assert report["finished"] and [item["parsed"] for item in report["languages"]] == [_FILES]
    assert status.returncode == 0 and re.search(r"^python +0 ", status.stdout, re.MULTILINE), status.stdout
    assert dead.returncode == 0 and dead.stdout.strip() == "no dead letters"
    worker_log = (tmp_path / "logs" / "worker-0.log").read_text()
    assert f"://:**@127.0.0.1:{tls_redis.port}/0" in worker_log  # Celery's banner, masked
    for text in (run.stdout, run.stderr, status.stdout, status.stderr, dead.stdout, dead.stderr, worker_log):
        assert _PASSWORD not in text


def test_an_untrusted_certificate_or_a_wrong_password_is_refused_without_showing_it(
    tls_redis: RedisServer, clean_db: str
) -> None:
    untrusted = tls_redis.url.split("&ssl_ca_certs=")[0]  # the system CAs do not know the test CA
    refused = _cli(["status"], untrusted, clean_db)
    assert refused.returncode == 3
    assert f"rediss://:***@127.0.0.1:{tls_redis.port}/0" in refused.stderr
    assert "certificate verify failed" in refused.stderr
    wrong = tls_redis.url.replace(_PASSWORD, "not-" + _PASSWORD)
    denied = _cli(["status"], wrong, clean_db)
    assert denied.returncode == 3
    for done in (refused, denied):
        assert _PASSWORD not in done.stdout + done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
