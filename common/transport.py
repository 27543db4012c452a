"""The Celery broker transport for ``redis://`` and ``rediss://``: kombu's Redis transport, with
one fix that keeps a worker alive when Redis restarts.

When the broker connection drops while the consumer is waiting in BRPOP, Celery (5.7) first
collects the connection, which detaches the transport from it, then closes it again. That second
close tries to put the worker's unacknowledged batches back on their queue, and building a Redis
client for it reads ``transport.client.hostname`` from the detached transport: an
``AttributeError``, which Celery treats as unrecoverable, and the worker exits instead of
reconnecting (2 of 6 Redis restarts in tests/test_outages.py without this class; kombu has had
this family of bugs before: kombu #582, #970). Here that case raises the connection error it
really is, which Celery ignores while closing; the batches stay in Redis's unacknowledged set and
come back after the visibility timeout, as if the worker had died.

Celery names the broker after its transport, so worker logs show
``common.transport:Transport://:**@host:port/db`` where they showed ``redis://:**@host:port/db``.
``unix://`` URLs keep kombu's own ``redis+socket`` transport (the embedded Redis, on one machine).
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis

__all__ = ["TRANSPORT", "Channel", "Transport"]

# What Celery's ``broker_transport`` names.
TRANSPORT = f"{__name__}:Transport"


# kombu's own method (the type stubs of celery-types leave this private method out)
_KOMBU_CONNPARAMS = vars(kombu_redis.Channel)["_connparams"]


class Channel(kombu_redis.Channel):
    """kombu's Redis channel; refuses to build a client once its transport was detached."""

    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise redis.ConnectionError("the broker connection was closed after a connection loss")
        return _KOMBU_CONNPARAMS(self, asynchronous)


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above."""

    Channel = Channel
