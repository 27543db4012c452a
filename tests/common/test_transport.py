"""The broker transport (common/transport.py) on a real Redis: one synchronous client per pool."""

from __future__ import annotations

import pytest
import redis
from kombu import Connection

from common.broker import kombu_url
from common.transport import TRANSPORT

pytestmark = pytest.mark.service


def test_a_channel_keeps_its_synchronous_client_until_its_pool_is_replaced(
    redis_url: str, clean_redis: redis.Redis
) -> None:
    with Connection(kombu_url(redis_url), transport=TRANSPORT) as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
            assert first.ping()
        channel._pool = None  # what kombu does to its pools after a connection loss
        with channel.conn_or_acquire() as third:
            assert third is not first and third.connection_pool is channel.pool
            assert third.ping()
        queue = connection.SimpleQueue("parsefleet-test-transport")
        try:
            queue.put({"n": 1})
            message = queue.get(timeout=5)
            assert message.payload == {"n": 1}
            message.ack()  # the unacknowledged record and the acknowledgement go through that client
            assert not clean_redis.hlen("unacked")
        finally:
            queue.close()
