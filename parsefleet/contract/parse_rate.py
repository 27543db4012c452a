"""The parse rate a language's batches reach in the workers: a moving estimate, pure arithmetic.

Workers add every committed batch (its source bytes and its outline seconds, ``duration_ms``); the
producer sizes batches from the estimate (parsefleet.producer.chunk.BatchSizer). The estimate keeps
decayed sums of bytes and seconds rather than a mean of per-batch rates, so that a batch weighs by
its size: a tiny batch (a warm-up, a run's last partial batch) barely moves it. Each batch multiplies
the past by ``1 - RATE_WEIGHT``: the estimate follows the last ``1 / RATE_WEIGHT`` batches or so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MIN_ESTIMATE_BYTES", "RATE_WEIGHT", "ParseRate", "rate_field", "slowest_rates"]

RATE_WEIGHT = 0.1  # share of the estimate each new batch takes (of its decayed sums)
# An estimate made of less source than this (a warm-up, a run of a few small files, whose batches
# are mostly per-batch overhead) sizes no batch: the producer keeps to bytes until there is more.
MIN_ESTIMATE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ParseRate:
    """Decayed sums of source bytes and outline seconds of one language's batches (one host class)."""

    source_bytes: float = 0.0
    outline_s: float = 0.0
    batches: int = 0
    updated_at_s: float = 0.0

    @property
    def bytes_per_s(self) -> float | None:
        """Source bytes per outline-second of one pool process; None before any batch."""
        return self.source_bytes / self.outline_s if self.outline_s > 0 and self.source_bytes > 0 else None

    def updated(self, source_bytes: int, outline_s: float, at_s: float, weight: float = RATE_WEIGHT) -> ParseRate:
        """The estimate with one more batch in it (a batch of no bytes or no time changes nothing)."""
        if source_bytes <= 0 or outline_s <= 0:
            return self
        keep = 1.0 - weight
        return ParseRate(
            self.source_bytes * keep + source_bytes, self.outline_s * keep + outline_s, self.batches + 1, at_s
        )

    def dumps(self) -> str:
        """The stored form (JSON)."""
        return json.dumps([self.source_bytes, self.outline_s, self.batches, self.updated_at_s])

    @classmethod
    def loads(cls, raw: str | bytes | None) -> ParseRate:
        """The stored form read back; anything unreadable is no estimate (an empty one)."""
        try:
            source_bytes, outline_s, batches, at_s = json.loads(raw or "[]")
            return cls(float(source_bytes), float(outline_s), int(batches), float(at_s))
        except (TypeError, ValueError):
            return cls()


def rate_field(language: str, host_class: str) -> str:
    """The field of one language's estimate measured on one class of worker host."""
    return f"{language}@{host_class}"


def slowest_rates(stored: Mapping[str, ParseRate]) -> dict[str, float]:
    """Per language, the slowest host class's bytes per second: batches sized for it hold the latency
    target on every class (a faster class only finishes them sooner). Estimates of less than
    MIN_ESTIMATE_BYTES of source are left out."""
    out: dict[str, float] = {}
    for name, rate in stored.items():
        language = name.split("@", 1)[0]
        value = rate.bytes_per_s
        if value is not None and rate.source_bytes >= MIN_ESTIMATE_BYTES:
            out[language] = min(value, out.get(language, value))
    return out
