"""statsd emission with DogStatsD-style tags (``name:value|ms|#language:python``).

statsd_exporter and Datadog-style servers both read that tag form. statsd is UDP: when the
server is down the figures are lost quietly; the database keeps the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping

import statsd

from parsefleet.contract.settings import Settings

__all__ = ["Metrics"]


class Metrics:
    """A statsd client for parsefleet's metric names (parsefleet.contract.names)."""

    def __init__(self, settings: Settings) -> None:
        host, port = settings.statsd_host_port
        self._client = statsd.StatsClient(host, port, prefix=settings.statsd_prefix or None)

    def timing_ms(self, name: str, value_ms: float, tags: Mapping[str, str]) -> None:
        """Send one timer value in milliseconds."""
        self._send(name, f"{value_ms:.3f}|ms", tags)

    def count(self, name: str, value: int, tags: Mapping[str, str]) -> None:
        """Add ``value`` to a counter."""
        self._send(name, f"{value}|c", tags)

    def gauge(self, name: str, value: float, tags: Mapping[str, str]) -> None:
        """Set a gauge."""
        self._send(name, f"{value:g}|g", tags)

    def _send(self, name: str, value: str, tags: Mapping[str, str]) -> None:
        suffix = "|#" + ",".join(f"{key}:{tag}" for key, tag in sorted(tags.items())) if tags else ""
        # statsd's public methods take no tags; _send_stat is the single formatting point they share.
        self._client._send_stat(name, value + suffix, 1)
