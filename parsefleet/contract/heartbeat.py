"""A worker's heartbeat: what its main process says about itself every ``heartbeat_s``.

Written by parsefleet.workers.heartbeat as JSON (never pickle) under the worker's key in Redis,
read by ``parsefleet status``, ``parsefleet scale advise`` and ``parsefleet worker-probe``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["STATES", "Heartbeat", "LanguageWork"]

# running: consuming; paused: consuming nothing because the fleet is paused; draining: warm
# shutdown started (SIGTERM), finishing what it holds; stalled: holds no batch while batches wait;
# stopped: exited by itself (its last beat).
STATES = ("running", "paused", "draining", "stalled", "stopped")


@dataclass(frozen=True, slots=True)
class LanguageWork:
    """What one worker's pool processes did in one language since the worker started."""

    batches: int = 0
    source_bytes: int = 0
    parse_s: float = 0.0  # the parse alone (outline_batch's duration)
    batch_s: float = 0.0  # the whole batch in its pool process: read, parse, commit

    @property
    def parse_bytes_per_s(self) -> float | None:
        """Bytes per second of parse, per pool process (None before the first batch)."""
        return self.source_bytes / self.parse_s if self.parse_s > 0 else None

    @property
    def batch_bytes_per_s(self) -> float | None:
        """Bytes per second of batch time, per pool process: what a pool process drains."""
        return self.source_bytes / self.batch_s if self.batch_s > 0 else None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One beat of one worker. Times are epoch seconds; ``worker_id`` is ``<node>:<pid>``."""

    worker_id: str
    node: str
    host: str
    pid: int
    state: str
    started_at: float
    beat_at: float
    concurrency: int
    # The CPU share each pool process may use (the worker's CPU governor; 1.0 when it is off).
    slot_share: float
    cpu_limit_pct: int
    max_memory_mb: int
    rss_bytes: int  # main process and pool children
    cpu_share_1m: float  # CPUs used by main process and children over the last minute (1.0 = one CPU)
    active: int  # batches being parsed now
    batches_done: int
    last_batch_at: float | None
    last_taken_at: float | None  # when it last took a batch from a queue
    stalled_since: float | None
    queues: tuple[str, ...] = ()
    languages: dict[str, LanguageWork] = field(default_factory=dict)
    exit_code: int | None = None  # in a stopped worker's last beat: 0 drained, 70 ended by its watchdog
    period_s: float = 0.0  # its heartbeat_s: the next beat is due this long after beat_at

    def late(self, now_s: float) -> bool:
        """True when a beat is overdue by half a period: the worker may be hung or cut off (its key
        expires, and it is gone, three periods after its last beat)."""
        return self.period_s > 0 and now_s - self.beat_at > 1.5 * self.period_s

    def to_json(self) -> str:
        """The record kept in Redis."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Heartbeat:
        """Read a record written by ``to_json``; ValueError when it is not one."""
        try:
            data: dict[str, Any] = json.loads(raw)
            languages = {str(name): LanguageWork(**work) for name, work in data.pop("languages", {}).items()}
            queues = tuple(str(queue) for queue in data.pop("queues", ()))
            beat = cls(**data, queues=queues, languages=languages)
        except (TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a heartbeat record: {exc}") from None
        if beat.state not in STATES:
            raise ValueError(f"not a heartbeat record: state {beat.state!r}")
        return beat

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data, with the measured rates beside the counts."""
        data = asdict(self)
        for name, work in self.languages.items():
            data["languages"][name]["parse_bytes_per_s"] = work.parse_bytes_per_s
            data["languages"][name]["batch_bytes_per_s"] = work.batch_bytes_per_s
        return data
