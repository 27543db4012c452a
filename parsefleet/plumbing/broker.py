"""Redis and Celery settings both sides share; redis errors become BrokerUnavailable here.

The producer and the workers must agree on the broker URL, the serializer and the visibility
timeout, so both build their Celery configuration from ``celery_config``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import redis

from parsefleet.contract.errors import BrokerUnavailable
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.redaction import shown_url
from parsefleet.plumbing.transport import SOCKET_ALIAS, TRANSPORT

__all__ = ["celery_config", "kombu_url", "redis_client", "translated"]


def kombu_url(redis_url: str) -> str:
    """Return the URL kombu understands: ``unix:///path`` becomes ``parsefleet-redis+socket:///path``
    (parsefleet's transport on a socket: plumbing/transport.py)."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        return f"{SOCKET_ALIAS}+socket://" + parts.path + (f"?{parts.query}" if parts.query else "")
    return redis_url


def celery_config(settings: Settings, redis_url: str) -> dict[str, Any]:
    """The Celery configuration of producer and workers alike."""
    config: dict[str, Any] = {
        "broker_url": kombu_url(redis_url),
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            # A batch not acknowledged within this many seconds is delivered again. Batches take
            # well under a second; the margin covers a full batch of per-file timeouts.
            "visibility_timeout": settings.visibility_timeout_s,
            # Every worker looks for such batches every 10 s (kombu's default scans only every
            # 10th look, so a lost host's batches came back up to 100 s after the timeout).
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
            "socket_keepalive": True,
            "health_check_interval": 10,
        },
        "task_serializer": "msgpack",
        "accept_content": ["msgpack", "json"],
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "task_default_queue": "parsefleet.python",
        "task_create_missing_queues": True,
        # A batch being parsed when the broker connection drops runs to its commit: its
        # acknowledgement is lost and it may come back, which the idempotent store absorbs. Cancelling
        # it (True) loses it when Redis had handed it over but the worker had not yet recorded it
        # as unacknowledged (seen in tests/test_outages.py: 2 of 9 Redis restarts left a run unfinished).
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }
    scheme = urlsplit(redis_url).scheme
    if scheme in ("redis", "rediss"):
        config["broker_transport"] = TRANSPORT  # kombu's, surviving a Redis restart (plumbing/transport.py)
    if scheme == "rediss":
        config["broker_use_ssl"] = {"ssl_cert_reqs": "required"}
    return config


@contextmanager
def translated(url: str) -> Iterator[None]:
    """Turn redis errors raised inside the block into BrokerUnavailable naming the (redacted) URL."""
    try:
        yield
    except redis.RedisError as exc:
        raise BrokerUnavailable(
            f"Redis at {shown_url(url)} is unreachable ({exc}); "
            "check PARSEFLEET_REDIS_URL and that the server is running"
        ) from exc


def redis_client(url: str) -> redis.Redis:
    """Open a Redis client and check it answers, or raise BrokerUnavailable."""
    with translated(url):
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
        client.ping()
        return client
