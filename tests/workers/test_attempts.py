"""The attempt counter against a real Redis: starts count until they end by themselves, and each
start reads its batch from the outbox in the same round trip."""

from __future__ import annotations

import pytest
import redis

from parsefleet.contract.names import ATTEMPTS_KEY_PREFIX, OUTBOX_KEY
from parsefleet.plumbing.outbox import Kept, Outbox
from parsefleet.workers.attempts import ATTEMPTS_TTL_S, Attempts, Start

pytestmark = pytest.mark.service


def test_starts_that_never_end_are_counted_and_the_rest_taken_back(redis_url: str, clean_redis: redis.Redis) -> None:
    attempts = Attempts(redis_url)
    assert attempts.begin("t1").count == 1
    assert attempts.begin("t1").count == 2  # the first start died: nothing took it back
    attempts.give_back("t1")  # the second handed itself to a retry
    assert attempts.begin("t1").count == 2
    assert 0 < int(clean_redis.ttl(ATTEMPTS_KEY_PREFIX + "t1")) <= ATTEMPTS_TTL_S
    attempts.finish("t1")
    assert clean_redis.exists(ATTEMPTS_KEY_PREFIX + "t1") == 0
    assert attempts.begin("t2").count == 1


def test_a_start_reads_its_batch_from_the_outbox_until_it_finishes(redis_url: str, clean_redis: redis.Redis) -> None:
    Outbox(clean_redis).keep(Kept("b1", "parsefleet.python", b"\x00payload\xff"))
    attempts = Attempts(redis_url)
    assert attempts.begin("b1") == Start(1, b"\x00payload\xff")
    attempts.finish("b1")
    assert clean_redis.hexists(OUTBOX_KEY, "b1") == 0
    assert attempts.begin("b1") == Start(1, None)  # a resend after the batch finished: nothing to read


def test_without_redis_a_start_counts_as_the_first(caplog: pytest.LogCaptureFixture) -> None:
    attempts = Attempts("redis://:hunter2@127.0.0.1:1/0")
    assert attempts.begin("t1") == Start(1, None, reached=False)
    attempts.finish("t1")  # quietly: the count expires on its own
    assert "redis://:***@127.0.0.1:1/0" in caplog.text and "hunter2" not in caplog.text
