"""What the operations commands do: ``status`` (once or ``--watch``), ``scale advise``, ``pause``,
``resume`` and ``worker-probe``, given settings."""

from __future__ import annotations

import getpass
import re
import socket
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from parsefleet.contract.errors import ConfigError
from parsefleet.contract.names import METRIC_ADVISED_WORKERS
from parsefleet.contract.scaling import Advice
from parsefleet.contract.settings import Settings
from parsefleet.plumbing import fleet
from parsefleet.plumbing.broker import redis_client, translated
from parsefleet.plumbing.database import session
from parsefleet.plumbing.fleet import Pause
from parsefleet.plumbing.metrics import Metrics
from parsefleet.reading.fleet import FleetStatus, load_advice, load_fleet, probe
from parsefleet.services.endpoints import Services

__all__ = [
    "CLEAR_SCREEN",
    "parse_duration",
    "pause",
    "resume",
    "scale_advise",
    "status",
    "watch",
    "worker_probe",
    "write_screen",
]

# Cursor home and clear screen: --watch redraws in place, as top does.
CLEAR_SCREEN = "\x1b[H\x1b[2J"
T = TypeVar("T")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)?$")
_UNITS_S = {"s": 1, "m": 60, "h": 3600, None: 1}


def parse_duration(text: str, what: str) -> float:
    """``90s``, ``30m``, ``2h`` or plain seconds; ConfigError (exit 2) otherwise."""
    match = _DURATION.match(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"{what} must look like 90s, 30m or 2h, got {text!r}")
    return float(match.group(1)) * _UNITS_S[match.group(2)]


def status(settings: Settings, limit: int) -> FleetStatus:
    """The fleet as it is now."""
    with Services(settings) as services:
        return _read(services, settings, limit)


def watch(settings: Settings, limit: int, every_s: float, show: Callable[[FleetStatus], None]) -> None:
    """Read the fleet every ``every_s`` and ``show`` it, until interrupted (Ctrl-C ends it cleanly)."""
    with Services(settings) as services:
        try:
            while True:
                started = time.monotonic()
                show(_read(services, settings, limit))
                time.sleep(max(0.0, every_s - (time.monotonic() - started)))
        except KeyboardInterrupt:
            return


def _read(services: Services, settings: Settings, limit: int) -> FleetStatus:
    client = redis_client(services.redis_url)
    try:
        with translated(services.redis_url), session(services.database_url) as conn:
            return load_fleet(client, conn, settings, limit)
    finally:
        client.close()


def scale_advise(settings: Settings, drain_within_s: float, *, export: bool) -> Advice:
    """Workers needed to drain the backlog within ``drain_within_s``; ``export`` also publishes the
    figure (Redis ``parsefleet:scale:advised_workers``, statsd ``parsefleet_advised_workers``)."""
    with Services(settings, need_database=False) as services:
        client = redis_client(services.redis_url)
        try:
            with translated(services.redis_url):
                advice = load_advice(client, settings, drain_within_s)
                if export:
                    fleet.publish_advice(client, advice.workers, settings.heartbeat_s)
        finally:
            client.close()
    if export:
        Metrics(settings).gauge(METRIC_ADVISED_WORKERS, advice.workers, {})
    return advice


def pause(settings: Settings) -> Pause:
    """Stop intake fleet-wide: every worker finishes what it holds and takes nothing more."""
    by = f"{getpass.getuser()}@{socket.gethostname()}"
    return _on_redis(settings, lambda client: fleet.pause(client, by))


def resume(settings: Settings) -> Pause | None:
    """Lift the pause; return the pause lifted (None when the fleet was not paused)."""
    return _on_redis(settings, fleet.resume)


def worker_probe(settings: Settings, host: str | None) -> tuple[bool, str]:
    """Whether this host's worker is live (a fresh heartbeat, not stalled): a liveness probe."""

    def check(client: redis.Redis) -> tuple[bool, str]:
        alive, _gone = fleet.beats(client, time.time(), settings.worker_gone_keep_s)
        return probe(alive, host or socket.gethostname())

    return _on_redis(settings, check)


def _on_redis(settings: Settings, action: Callable[[redis.Redis], T]) -> T:
    with Services(settings, need_database=False) as services:
        client = redis_client(services.redis_url)
        try:
            with translated(services.redis_url):
                return action(client)
        finally:
            client.close()


def write_screen(text: str) -> None:
    """Redraw the terminal with ``text`` (--watch)."""
    sys.stdout.write(CLEAR_SCREEN + text + "\n")
    sys.stdout.flush()
