"""The producer's lease in Redis: how `parsefleet status` tells a run whose producer died.

While a producer runs, a thread of its own renews ``PRODUCER_KEY_PREFIX + run id`` (its host and
pid) every ``heartbeat_s``, with an expiry of three periods; the key is deleted when the producer
ends. A run not yet submitted without the key has lost its producer (``kill -9``, a host gone):
`parsefleet submit --resume RUN_ID` goes on with it. Renewal is best effort: a Redis outage shows
the producer as gone for a while, it never stops the producer.

The lease also says the producer's priority (``--priority``, in ``PRODUCER_PRIORITIES_KEY``):
``outranked`` tells a producer that another one holding its lease has a higher priority, and the
producer then keeps to a share of the pending-bytes budget (producer/enqueue.py), so that the
workers' queues hold mostly the higher priority's batches.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from parsefleet.contract.errors import BrokerUnavailable
from parsefleet.contract.names import PRODUCER_KEY_PREFIX, PRODUCER_PRIORITIES_KEY
from parsefleet.plumbing.broker import redis_client, translated

__all__ = ["ProducerLease"]

log = logging.getLogger(__name__)
_MISSED_BEATS = 3


class ProducerLease:
    """Holds the lease of ``run_id`` from ``start`` to ``stop``."""

    def __init__(self, redis_url: str, run_id: str, period_s: float, *, priority: int = 0) -> None:
        self.redis_url = redis_url
        self.run_id = run_id
        self.priority = priority
        self.key = PRODUCER_KEY_PREFIX + run_id
        self.period_s = period_s
        self._holder = f"{socket.gethostname()}:{os.getpid()}"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="parsefleet-producer-lease", daemon=True)
        self._client = redis_client(redis_url)

    def start(self) -> None:
        """Take the lease and keep renewing it."""
        self._beat()
        try:
            with translated(self.redis_url):
                self._client.zadd(PRODUCER_PRIORITIES_KEY, {self.run_id: self.priority})
        except BrokerUnavailable as exc:
            log.warning("could not say the producer's priority: %s", exc)
        self._thread.start()

    def outranked(self) -> bool:
        """Whether a producer holding its lease has a higher priority (False when Redis cannot tell)."""
        try:
            with translated(self.redis_url):
                higher = [
                    run_id.decode() if isinstance(run_id, bytes) else str(run_id)
                    for run_id in self._client.zrangebyscore(PRODUCER_PRIORITIES_KEY, f"({self.priority}", "+inf")
                ]
                alive = self._client.mget([PRODUCER_KEY_PREFIX + run_id for run_id in higher]) if higher else []
                gone = [run_id for run_id, holder in zip(higher, alive, strict=True) if holder is None]
                if gone:  # a producer killed before it could say it ends
                    self._client.zrem(PRODUCER_PRIORITIES_KEY, *gone)
        except BrokerUnavailable as exc:
            log.warning("could not read the producers' priorities: %s", exc)
            return False
        return len(gone) < len(higher)

    def stop(self) -> None:
        """Give the lease up."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            with translated(self.redis_url):
                self._client.delete(self.key)
                self._client.zrem(PRODUCER_PRIORITIES_KEY, self.run_id)
        except BrokerUnavailable as exc:
            log.warning("could not give up the producer lease: %s", exc)
        self._client.close()

    def _renew(self) -> None:
        while not self._stopped.wait(self.period_s):
            self._beat()

    def _beat(self) -> None:
        try:
            with translated(self.redis_url):
                self._client.set(self.key, self._holder, px=int(self.period_s * _MISSED_BEATS * 1000))
        except BrokerUnavailable as exc:
            log.warning("could not renew the producer lease: %s", exc)
