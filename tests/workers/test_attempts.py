"""The attempt counter against a real Redis: starts count until they end by themselves."""

from __future__ import annotations

import pytest
import redis

from common.names import ATTEMPTS_KEY_PREFIX
from workers.attempts import ATTEMPTS_TTL_S, Attempts

pytestmark = pytest.mark.service


def test_starts_that_never_end_are_counted_and_the_rest_taken_back(redis_url: str, clean_redis: redis.Redis) -> None:
    attempts = Attempts(redis_url)
    assert attempts.begin("t1") == 1
    assert attempts.begin("t1") == 2  # the first start died: nothing took it back
    attempts.give_back("t1")  # the second handed itself to a retry
    assert attempts.begin("t1") == 2
    assert 0 < int(clean_redis.ttl(ATTEMPTS_KEY_PREFIX + "t1")) <= ATTEMPTS_TTL_S
    attempts.finish("t1")
    assert clean_redis.exists(ATTEMPTS_KEY_PREFIX + "t1") == 0
    assert attempts.begin("t2") == 1


def test_without_redis_a_start_counts_as_the_first(caplog: pytest.LogCaptureFixture) -> None:
    attempts = Attempts("redis://:hunter2@127.0.0.1:1/0")
    assert attempts.begin("t1") == 1
    attempts.finish("t1")  # quietly: the count expires on its own
    assert "redis://:***@127.0.0.1:1/0" in caplog.text and "hunter2" not in caplog.text
