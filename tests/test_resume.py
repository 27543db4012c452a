"""A producer killed with SIGKILL, then resumed: nothing lost, nothing sent twice, an exact account.

Real processes throughout: the producer is a `parsefleet submit` process, killed while it lists,
while it sends (held by backpressure: no worker runs yet, so the queues fill), and after its last
batch; then a worker starts and `parsefleet submit --resume RUN_ID --wait` finishes the run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from parsefleet.contract.names import OUTBOX_KEY, PRODUCER_KEY_PREFIX, queue_for
from parsefleet.contract.settings import Settings
from tests.bulk_repos import assert_each_sent_once, cli_env, resumed_with_a_worker, small_repositories
from tests.services import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow]

PARSEFLEET = [sys.executable, "-m", "parsefleet.cli.main"]
_REPOSITORIES = 200


def _one(database_url: str, query: str, *params: object) -> tuple[object, ...] | None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(query, params).fetchone()


def _queued(client: redis.Redis) -> int:
    return int(client.llen(queue_for("python"))) + int(client.llen(queue_for("go")))


def _started(database_url: str) -> bool:
    return _one(database_url, "SELECT count(*) FROM runs") == (1,)


def _held_by_backpressure(client: redis.Redis, database_url: str) -> bool:
    """A queue is full (no worker takes from it) and recorded batches wait to be sent."""
    recorded = _one(database_url, "SELECT count(*) FROM batches") or (0,)
    full = max(int(client.llen(queue_for("python"))), int(client.llen(queue_for("go")))) >= 2
    return full and int(str(recorded[0])) > int(client.hlen(OUTBOX_KEY))


def _submitted(database_url: str) -> bool:
    return _one(database_url, "SELECT count(*) FROM runs WHERE submitted_at IS NOT NULL") == (1,)


_POINTS: dict[str, tuple[dict[str, str], list[str], Callable[[redis.Redis, str], bool]]] = {
    "listing": ({"PARSEFLEET_MAX_PENDING_BATCHES": "2"}, [], lambda _client, url: _started(url)),
    "sending": ({"PARSEFLEET_MAX_PENDING_BATCHES": "2"}, [], _held_by_backpressure),
    "after-last-batch": ({"PARSEFLEET_MAX_PENDING_BATCHES": "10000"}, ["--wait"], lambda _client, url: _submitted(url)),
}


@pytest.mark.parametrize("point", sorted(_POINTS))
def test_a_producer_killed_then_resumed_accounts_for_every_file_once(
    point: str, settings: Settings, clean_redis: redis.Redis, tmp_path: Path
) -> None:
    extra_env, extra_args, reached = _POINTS[point]
    repositories = small_repositories(tmp_path / "repos", _REPOSITORIES)
    (tmp_path / "list.txt").write_text("".join(f"{path}\n" for path in repositories))
    env = {**cli_env(settings), "PARSEFLEET_BATCH_MAX_FILES": "8", "PARSEFLEET_HEARTBEAT_S": "0.5", **extra_env}
    assert settings.database_url is not None and settings.redis_url is not None
    producer = subprocess.Popen(
        [*PARSEFLEET, "submit", "--no-progress", "--from", "list.txt", *extra_args],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until(lambda: reached(clean_redis, settings.database_url or ""), f"the producer {point}", 300)
    finally:
        producer.send_signal(signal.SIGKILL)
        producer.wait(timeout=30)
    assert producer.returncode == -signal.SIGKILL
    run = _one(settings.database_url, "SELECT id::text, submitted_at IS NOT NULL FROM runs")
    assert run is not None
    run_id = str(run[0])
    assert bool(run[1]) == (point == "after-last-batch")

    lease = PRODUCER_KEY_PREFIX + run_id  # renewed every 0.5 s, it lapses 1.5 s after the kill
    wait_until(lambda: not clean_redis.exists(lease), "the dead producer's lease lapsed", 60)
    status = subprocess.run(
        [*PARSEFLEET, "status", "--json"], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    shown = {item["run_id"]: item for item in json.loads(status.stdout)["runs"]}
    assert shown[run_id]["producer"] == ("done" if point == "after-last-batch" else "gone"), shown[run_id]

    _assert_exact_account(
        resumed_with_a_worker(settings, env, tmp_path / "logs", run_id), settings.database_url, run_id
    )


def _assert_exact_account(report: dict[str, Any], database_url: str, run_id: str) -> None:
    assert report["run_id"] == run_id and report["finished"] and report["failed_targets"] == []
    languages = {item["language"]: item for item in report["languages"]}
    # each repository: common.py (one blob for all), own.py, lib.go
    assert languages["python"]["seen"] == 2 * _REPOSITORIES and languages["go"]["seen"] == _REPOSITORIES
    assert languages["python"]["parsed"] == _REPOSITORIES + 1 and languages["go"]["parsed"] == _REPOSITORIES
    assert languages["python"]["skipped"] == {"duplicate": _REPOSITORIES - 1}
    assert languages["go"]["skipped"] == {}
    for item in languages.values():
        assert item["cancelled"] == 0 and item["failed"] == 0
        assert item["seen"] == item["parsed"] + item["skipped_total"]
    assert_each_sent_once(database_url, run_id, 2 * _REPOSITORIES + 1)
    totals = _one(
        database_url,
        "SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM blobs),"
        "       (SELECT count(*) FROM run_targets WHERE run_id = %s AND error IS NULL)",
        run_id,
    )
    assert totals is not None
    files, blobs, targets = totals
    assert files == 3 * _REPOSITORIES and blobs == 2 * _REPOSITORIES + 1
    assert targets == _REPOSITORIES
