"""`parsefleet bench --profile hosts` on the tiny stand-in corpus: it runs 1, 2 and 3 worker hosts,
reports throughput against CPU, and says what it measures on a machine with fewer cores than hosts.
Timings are never asserted (the machine is shared); the figures' arithmetic is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.timeout(900)]


def test_hosts_profile_runs_one_two_and_three_hosts(
    tmp_path: Path, redis_url: str, clean_redis: object, database_url: str
) -> None:
    out = tmp_path / "hosts.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")}
    env["PARSEFLEET_DATABASE_URL"] = database_url
    env["PARSEFLEET_REDIS_URL"] = redis_url
    done = subprocess.run(
        [sys.executable, "-m", "parsefleet.cli.main", "bench", "--profile", "hosts", "--corpus-dir", str(tmp_path),
         "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    runs = result["runs"]
    assert [run["hosts"] for run in runs] == [1, 2, 3]
    assert len({run["files"] for run in runs}) == 1 and runs[0]["files"] > 0
    for run in runs:
        assert run["cpu_s"] > 0 and run["seconds"] > 0
        assert run["bytes_per_s"] == pytest.approx(run["source_bytes"] / run["seconds"])
        assert run["projected_bytes_per_s"] == pytest.approx(run["hosts"] * runs[0]["bytes_per_s"])
    assert "projected" in done.stdout
    if result["shared_cores"]:
        assert "overhead of more workers" in done.stdout and "not more speed" in done.stdout
