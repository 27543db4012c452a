"""``parsefleet services stop``: the embedded services a killed command left running are stopped, and
services some process still uses are not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from parsefleet.contract.settings import Settings
from parsefleet.services.embedded_redis import EmbeddedRedis
from parsefleet.services.endpoints import Services, usable_data_dir
from tests.services import wait_until

pytestmark = [pytest.mark.service]

_HOLDER = """
import sys
from pathlib import Path
from parsefleet.contract.settings import Settings
from parsefleet.services.endpoints import Services
with Services(Settings.from_env({}, data_dir=Path(sys.argv[1])), need_database=False) as services:
    print(services.redis_url, flush=True)
    sys.stdin.read()
"""


def _stop(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parsefleet.cli.main", "services", "stop", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _redis_of(data_dir: Path) -> EmbeddedRedis:
    directory = usable_data_dir(Settings.from_env({}, data_dir=data_dir))
    return EmbeddedRedis(directory.path / "redis", directory.account)


def test_services_a_killed_process_left_running_are_stopped(embedded_data_dir: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(embedded_data_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    assert holder.stdout is not None
    assert holder.stdout.readline().startswith("unix://")
    redis_server = _redis_of(embedded_data_dir)
    assert redis_server.answers()

    in_use = _stop(embedded_data_dir)
    assert in_use.returncode == 1, in_use
    assert "in use by another parsefleet process" in in_use.stdout
    assert redis_server.answers()

    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert redis_server.answers(), "a killed process leaves its services running (what stop is for)"

    stopped = _stop(embedded_data_dir)
    assert stopped.returncode == 0, stopped
    assert f"stopped the embedded services in {embedded_data_dir}" in stopped.stdout
    wait_until(lambda: not redis_server.answers(), "the embedded Redis stopped")
    again = _stop(embedded_data_dir)
    assert again.returncode == 0, again
    assert again.stdout.strip() == f"no embedded services running in {embedded_data_dir}"


def test_services_in_use_by_this_process_are_not_stopped(embedded_data_dir: Path) -> None:
    settings = Settings.from_env({}, data_dir=embedded_data_dir)
    with Services(settings, need_database=False):
        outcome = _stop(embedded_data_dir)
        assert outcome.returncode == 1, outcome
        assert _redis_of(embedded_data_dir).answers()


def test_a_directory_without_services_is_said_so(embedded_data_dir: Path) -> None:
    outcome = _stop(embedded_data_dir)
    assert outcome.returncode == 0, outcome
    assert outcome.stdout.strip() == f"no embedded services running in {embedded_data_dir}"
    assert list(embedded_data_dir.iterdir()) == []
