"""The broker transport (plumbing/transport.py) on a real Redis: one synchronous client per pool,
over TCP (a private redis-server on a loopback port) and over a unix socket (the embedded Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kombu import Connection

from parsefleet.plumbing.broker import kombu_url
from parsefleet.plumbing.transport import TRANSPORT, Transport
from tests.services import RedisServer

pytestmark = pytest.mark.service


@pytest.fixture(params=["tcp", "unix socket"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, redis.Redis]]:
    """(URL, client) of a Redis on a loopback port, or of the session's embedded one on its socket."""
    if request.param == "unix socket":
        client = request.getfixturevalue("clean_redis")
        yield request.getfixturevalue("redis_url"), client
        return
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server.url, server.client()
    server.kill()


def test_a_channel_keeps_its_synchronous_client_until_its_pool_is_replaced(broker: tuple[str, redis.Redis]) -> None:
    redis_url, clean_redis = broker
    options = {"transport": TRANSPORT} if not redis_url.startswith("unix") else {}
    with Connection(kombu_url(redis_url), **options) as connection:
        assert isinstance(connection.transport, Transport)
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
