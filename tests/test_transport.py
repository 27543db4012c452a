"""The broker transport (plumbing/transport.py) on a real Redis over TCP: one synchronous client per pool.

The transport serves redis:// and rediss:// URLs (unix sockets keep kombu's own), so the test runs
a private redis-server on a loopback port.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from parsefleet.plumbing.broker import kombu_url
from parsefleet.plumbing.transport import TRANSPORT
from tests.services import RedisServer

pytestmark = pytest.mark.service


@pytest.fixture
def tcp_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


def test_a_channel_keeps_its_synchronous_client_until_its_pool_is_replaced(tcp_redis: RedisServer) -> None:
    redis_url, clean_redis = tcp_redis.url, tcp_redis.client()
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
