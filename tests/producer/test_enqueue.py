"""Backpressure against a real Redis: the producer waits while a queue is full."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.names import queue_for
from parsefleet.contract.settings import Settings
from parsefleet.producer.enqueue import Enqueuer

pytestmark = pytest.mark.service


def _batch(index: int) -> Batch:
    ref = FileRef(1, f"f{index}.py", bytes(20), "python", 5)
    return Batch(f"run:{index:06d}", "run", "python", (BatchFile(ref, b"x = 1"),))


def _wait_for_depth(client: redis.Redis, queue: str, depth: int) -> None:
    deadline = time.monotonic() + 30
    while client.llen(queue) != depth:
        assert time.monotonic() < deadline, f"queue never reached {depth}"
        time.sleep(0.01)


def test_producer_holds_at_max_pending_and_resumes_when_a_batch_leaves(
    clean_redis: redis.Redis, redis_url: str
) -> None:
    settings = Settings.from_env({}, redis_url=redis_url, max_pending_batches=3)
    enqueuer = Enqueuer(settings, redis_url)
    queue = queue_for("python")
    sent: list[int] = []

    def produce() -> None:
        for index in range(5):
            enqueuer.send(_batch(index))
            sent.append(index)

    producer = threading.Thread(target=produce)
    producer.start()
    _wait_for_depth(clean_redis, queue, 3)
    producer.join(timeout=0.5)
    assert producer.is_alive() and sent == [0, 1, 2]  # the fourth batch waits for room
    clean_redis.rpop(queue)
    deadline = time.monotonic() + 30
    while len(sent) < 4:
        assert time.monotonic() < deadline, "the producer did not resume"
        time.sleep(0.01)
    assert sent == [0, 1, 2, 3] and clean_redis.llen(queue) == 3
    clean_redis.rpop(queue)
    clean_redis.rpop(queue)
    producer.join(timeout=30)
    assert not producer.is_alive() and sent == [0, 1, 2, 3, 4]
    assert enqueuer.waited_s > 0
    enqueuer.close()
