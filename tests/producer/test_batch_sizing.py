"""The real producer on a real Redis and PostgreSQL sizes its batches from the workers' parse-rate
estimate: by bytes before any estimate, by time once there is one, by bytes again with the target at
0. No worker runs: the batches are read back from the run's ``batches`` rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import redis

from parsefleet.contract.settings import Settings
from parsefleet.plumbing.parse_rates import record_rate
from parsefleet.producer.chunk import MIN_SIZED_BYTES
from parsefleet.producer.snapshot import plan_targets
from parsefleet.producer.submission import Submission
from parsefleet.producer.targets import planned
from tests.accounting import many_files

pytestmark = pytest.mark.service


def _sizes(settings: Settings, repo: Path) -> list[int]:
    assert settings.redis_url and settings.database_url
    tally = Submission(settings, settings.redis_url, settings.database_url).run(
        planned(plan_targets([repo], settings), settings)
    )
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT size_bytes FROM batches WHERE run_id = %s", (tally.run_id,)).fetchall()
    return sorted(int(row[0]) for row in rows)


def test_batches_follow_the_estimate_and_fall_back_to_bytes(
    settings: Settings, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    repo = many_files(tmp_path / "repo", 200)  # about 65 KB of Python
    sized = replace(settings, batch_max_bytes=64 * 1024, batch_max_files=500)
    fixed_sizes = _sizes(sized, repo)
    # no estimate: batches of up to 64 KiB (each window of the producer leaves in its own batches)
    assert 50_000 < max(fixed_sizes) <= 64 * 1024
    record_rate(clean_redis, "python", "default", 100_000, 0.5)  # 200 KB/s: 10 KB in 50 ms, floored
    timed = _sizes(sized, repo)
    assert sum(timed) == sum(fixed_sizes)  # not skipped: the blobs are unknown until a worker stores them
    assert len(timed) >= 4 and max(timed) <= MIN_SIZED_BYTES
    assert _sizes(replace(sized, batch_target_ms=0), repo) == fixed_sizes  # the target at 0: bytes again
