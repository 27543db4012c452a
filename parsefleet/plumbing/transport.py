"""The Celery broker transport for ``redis://`` and ``rediss://``: kombu's Redis transport, with
one fix that keeps a worker alive when Redis restarts, and one that stops it building a Redis
client per command.

When the broker connection drops while the consumer is waiting in BRPOP, Celery (5.7) first
collects the connection, which detaches the transport from it, then closes it again. That second
close tries to put the worker's unacknowledged batches back on their queue, and building a Redis
client for it reads ``transport.client.hostname`` from the detached transport: an
``AttributeError``, which Celery treats as unrecoverable, and the worker exits instead of
reconnecting (2 of 6 Redis restarts in tests/test_outages.py without this class; kombu has had
this family of bugs before: kombu #582, #970). Here that case raises the connection error it
really is, which Celery ignores while closing; the batches stay in Redis's unacknowledged set and
come back after the visibility timeout, as if the worker had died.

kombu also builds a new redis-py client for every publish, every unacknowledged record and every
acknowledgement; each builds its table of response callbacks. The channel here keeps one per
connection pool: the worker's main process went from 1.7-2.5 to 1.5-2.0 ms of CPU per task and
the producer from 1.2-1.5 to 0.9-1.4 ms per batch sent (docs/benchmarks.md, session 5).

Celery names the broker after its transport, so worker logs show
``parsefleet.plumbing.transport:Transport://:**@host:port/db`` where they showed ``redis://:**@host:port/db``.
A unix socket (the embedded Redis) takes the same transport through the kombu alias
``parsefleet-redis``, registered on import: its URL is ``parsefleet-redis+socket:///path`` (kombu
takes the transport of a ``+socket`` URL from the URL itself, and refuses dotted names there).
"""

from __future__ import annotations

from typing import Any

import kombu.transport
import redis
from kombu.transport import redis as kombu_redis

__all__ = ["SOCKET_ALIAS", "TRANSPORT", "Channel", "Transport"]

# What Celery's ``broker_transport`` names.
TRANSPORT = f"{__name__}:Transport"
# The name a unix-socket broker URL gives this transport (``parsefleet-redis+socket:///path``).
SOCKET_ALIAS = "parsefleet-redis"
kombu.transport.TRANSPORT_ALIASES.setdefault(SOCKET_ALIAS, TRANSPORT)


# kombu's own method (the type stubs of celery-types leave this private method out)
_KOMBU_CONNPARAMS = vars(kombu_redis.Channel)["_connparams"]
_KOMBU_CREATE_CLIENT = vars(kombu_redis.Channel)["_create_client"]


class Channel(kombu_redis.Channel):
    """kombu's Redis channel; refuses to build a client once its transport was detached, and keeps
    its synchronous client instead of building one per command."""

    _plain_client: Any = None

    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise redis.ConnectionError("the broker connection was closed after a connection loss")
        return _KOMBU_CONNPARAMS(self, asynchronous)

    def _create_client(self, asynchronous: bool = False) -> Any:
        """kombu builds a new redis-py client (with its table of ~170 response callbacks) for every
        publish, every unacknowledged record and every acknowledgement; a client is only a handle
        on the connection pool, so the synchronous one is kept for as long as its pool is the
        channel's (kombu replaces the pool after a connection loss)."""
        if asynchronous:
            return _KOMBU_CREATE_CLIENT(self, asynchronous=True)
        pool = self.pool
        if self._plain_client is None or self._plain_client.connection_pool is not pool:
            self._plain_client = _KOMBU_CREATE_CLIENT(self)
        return self._plain_client


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above."""

    Channel = Channel
