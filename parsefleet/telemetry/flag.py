"""The Step 2 telemetry flag ``telemetry.v2.parser_cli``: a percentage in Redis, and what it samples.

The flag is an integer 0..100 under the key ``TELEMETRY_FLAG``; an absent key means 0 (Step 1
collectors only). A second key, ``TELEMETRY_REVERTED_KEY``, set by ``parsefleet telemetry revert``,
turns Step 2 off whatever the percentage says, until ``parsefleet flag set PCT --enable-step2``.

Sampling is deterministic: a unit (a batch id, a CLI invocation id) is in the sampled share when
the BLAKE2b hash of its id modulo 100 is below the percentage. Every worker and every delivery
decides the same way for the same batch, and raising the percentage only adds units.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from parsefleet.contract.errors import ConfigError, ParsefleetError, StepTwoReverted
from parsefleet.contract.names import TELEMETRY_FLAG, TELEMETRY_REVERTED_KEY
from parsefleet.plumbing.broker import redis_client, translated

__all__ = ["FlagCache", "FlagState", "TelemetryFlag", "parse_pct", "sampled"]

log = logging.getLogger(__name__)


def sampled(unit_id: str, pct: int) -> bool:
    """True when ``unit_id`` falls in the first ``pct`` of 100 hash buckets."""
    digest = hashlib.blake2b(unit_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100 < pct


def parse_pct(text: str) -> int:
    """An integer percentage 0..100 from user input or Redis, or ConfigError."""
    value = text.strip()
    if not value.isdigit() or int(value) > 100:
        raise ConfigError(f"{TELEMETRY_FLAG} must be an integer percentage 0..100, got {text!r}")
    return int(value)


@dataclass(frozen=True, slots=True)
class FlagState:
    """The stored percentage and whether Step 2 was reverted."""

    pct: int
    reverted: bool = False

    @property
    def effective_pct(self) -> int:
        """The share that gets Step 2 figures: 0 after a revert."""
        return 0 if self.reverted else self.pct

    def samples(self, unit_id: str) -> bool:
        """True when ``unit_id`` gets Step 2 figures."""
        return sampled(unit_id, self.effective_pct)

    def render(self) -> str:
        """One line for a terminal."""
        note = " (Step 2 reverted: effective 0%)" if self.reverted else ""
        return f"{TELEMETRY_FLAG} {self.pct}%{note}"


class TelemetryFlag:
    """The flag in one Redis; redis errors become BrokerUnavailable naming the URL."""

    def __init__(self, client: redis.Redis, url: str) -> None:
        self._client = client
        self._url = url

    def read(self) -> FlagState:
        """The stored state; ConfigError when the stored value is not a percentage."""
        with translated(self._url):
            raw_pct, raw_reverted = self._client.mget(TELEMETRY_FLAG, TELEMETRY_REVERTED_KEY)
        text = raw_pct.decode(errors="replace") if isinstance(raw_pct, bytes) else raw_pct
        pct = 0 if text is None else parse_pct(str(text))
        return FlagState(pct, raw_reverted is not None)

    def set_pct(self, pct: int, *, enable_step2: bool = False) -> FlagState:
        """Store ``pct`` (clearing a revert when asked); return the state before."""
        if not 0 <= pct <= 100:
            raise ConfigError(f"{TELEMETRY_FLAG} must be within 0..100, got {pct}")
        before = self.read_lenient()
        if before.reverted and pct > 0 and not enable_step2:
            raise StepTwoReverted(
                f"Step 2 telemetry was reverted (parsefleet telemetry revert); "
                f"`parsefleet flag set {pct} --enable-step2` turns it on again"
            )
        with translated(self._url), self._client.pipeline() as pipe:
            pipe.set(TELEMETRY_FLAG, str(pct))
            if enable_step2:
                pipe.delete(TELEMETRY_REVERTED_KEY)
            pipe.execute()
        return before

    def revert(self) -> FlagState:
        """Set 0% and mark Step 2 reverted; return the state before."""
        before = self.read_lenient()
        with translated(self._url), self._client.pipeline() as pipe:
            pipe.set(TELEMETRY_FLAG, "0")
            pipe.set(TELEMETRY_REVERTED_KEY, str(int(time.time())))
            pipe.execute()
        return before

    def read_lenient(self) -> FlagState:
        """The stored state, a malformed percentage read as 0 (so that it can be overwritten)."""
        try:
            return self.read()
        except ConfigError:
            with translated(self._url):
                return FlagState(0, bool(self._client.exists(TELEMETRY_REVERTED_KEY)))


class FlagCache:
    """A worker process's view of the flag, read from Redis at most once per ``ttl_s``.

    The client is opened on first use (after the pool has forked). When Redis cannot be read or
    holds a malformed value, the flag counts as 0% (Step 1) until the next read.
    """

    def __init__(self, redis_url: str, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._url = redis_url
        self._ttl_s = ttl_s
        self._clock = clock
        self._flag: TelemetryFlag | None = None
        self._state = FlagState(0)
        self._read_at: float | None = None

    def current(self) -> FlagState:
        """The flag as of at most ``ttl_s`` ago."""
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._ttl_s:
            self._state = self._read()
            self._read_at = now
        return self._state

    def _read(self) -> FlagState:
        try:
            if self._flag is None:
                self._flag = TelemetryFlag(redis_client(self._url), self._url)
            return self._flag.read()
        except ParsefleetError as exc:
            log.warning("telemetry flag unreadable, Step 1 only until the next read: %s", exc)
            self._flag = None
            return FlagState(0)
