"""The parse-rate estimates on a real Redis: every batch of two children counted, the producer's
view (slowest host class), and ``parsefleet status`` showing them."""

from __future__ import annotations

import threading

import pytest
import redis

from parsefleet.contract.names import PARSE_RATE_KEY
from parsefleet.contract.parse_rate import ParseRate, rate_field
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.parse_rates import RATE_TTL_S, forget_rates, record_rate, stored_rates
from parsefleet.producer.enqueue import Enqueuer

pytestmark = pytest.mark.service


def test_concurrent_batches_are_all_counted(clean_redis: redis.Redis, redis_url: str) -> None:
    def child() -> None:
        client = redis.Redis.from_url(redis_url)
        for _ in range(25):
            record_rate(client, "go", "default", 100_000, 0.02)
        client.close()

    threads = [threading.Thread(target=child) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = stored_rates(clean_redis)
    assert list(stored) == [rate_field("go", "default")]
    assert stored["go@default"].batches == 50
    assert stored["go@default"].bytes_per_s == pytest.approx(5_000_000)
    assert 0 < clean_redis.ttl(PARSE_RATE_KEY) <= RATE_TTL_S


def test_producer_sizes_for_the_slowest_class_and_falls_back_without_estimates(
    clean_redis: redis.Redis, redis_url: str
) -> None:
    enqueuer = Enqueuer(Settings.from_env({}), redis_url)
    try:
        assert enqueuer.parse_rates() == {}
        record_rate(clean_redis, "python", "fast", 300_000, 0.03)
        record_rate(clean_redis, "python", "slow", 300_000, 0.06)
        assert enqueuer.parse_rates() == {"python": pytest.approx(5_000_000)}
        clean_redis.hset(PARSE_RATE_KEY, "rust@default", b"garbage")
        assert stored_rates(clean_redis)["rust@default"] == ParseRate()
        assert "rust" not in enqueuer.parse_rates()
        forget_rates(clean_redis)
        assert enqueuer.parse_rates() == {}
    finally:
        enqueuer.close()
