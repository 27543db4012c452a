"""Bounded bulk runs through real processes: the bytes pending on Redis stay within their budget
(sampled)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis

from parsefleet.contract.settings import Settings
from parsefleet.plumbing.fleet import backlog
from parsefleet.services.local_workers import LocalWorkers
from tests.bulk_repos import cli_env
from tests.services import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow]

PARSEFLEET = [sys.executable, "-m", "parsefleet.cli.main"]


def _monorepo(root: Path, files: int) -> Path:
    """A git repository of ``files`` distinct Python files (untracked: git lists them)."""
    subprocess.run(["git", "init", "-q", "--template=", str(root)], check=True, capture_output=True)
    for index in range(files):
        directory = root / f"pkg{index % 30}"
        directory.mkdir(exist_ok=True)
        body = "".join(f"def f{index}_{n}(x):\n    return x * {n}\n" for n in range(40))
        (directory / f"m{index}.py").write_text(body)
    return root


def _outstanding_bytes(client: redis.Redis) -> int:
    return sum(queue.outstanding_bytes for queue in backlog(client).values())


def test_the_bytes_pending_on_redis_stay_within_the_budget(
    settings: Settings, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    budget, batch_bytes = 256 * 1024, 32 * 1024
    monorepo = _monorepo(tmp_path / "mono", 1200)
    env = {
        **cli_env(settings),
        "PARSEFLEET_MAX_PENDING_BYTES": str(budget),
        "PARSEFLEET_BATCH_MAX_BYTES": str(batch_bytes),
        "PARSEFLEET_MAX_PENDING_BATCHES": "10000",
    }
    baseline = int(clean_redis.info("memory")["used_memory"])
    producer = subprocess.Popen(
        [*PARSEFLEET, "submit", "--no-progress", str(monorepo)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    samples: list[tuple[int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        client = redis.Redis.from_url(settings.redis_url or "")
        while not stop.is_set():
            samples.append((_outstanding_bytes(client), int(client.info("memory")["used_memory"])))
            stop.wait(0.02)
        client.close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    fleet: LocalWorkers | None = None
    try:
        # no worker yet: the producer fills the budget and waits there
        wait_until(lambda: _outstanding_bytes(clean_redis) > budget - batch_bytes, "the budget filled", 300)
        assert producer.poll() is None  # held, not done: the corpus is larger than the budget
        assert settings.redis_url and settings.database_url
        fleet = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs", count=1)
        fleet.start()
        _out, err = producer.communicate(timeout=600)
        assert producer.returncode == 0, err
    finally:
        stop.set()
        sampler.join()
        if fleet is not None:
            fleet.stop()
    assert samples
    assert max(pending for pending, _memory in samples) <= budget + batch_bytes
    # Redis holds the payloads compressed, plus the messages and the outbox's bookkeeping
    overhead = 2 * 1024 * 1024
    assert max(memory for _pending, memory in samples) - baseline <= budget + overhead
