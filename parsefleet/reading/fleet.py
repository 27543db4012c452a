"""The fleet as ``parsefleet status`` and the console show it: queue depths, batches in flight,
dead letters and the latest runs, read from Redis and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
import redis

from parsefleet.contract.batch import Batch, decode_batch
from parsefleet.contract.errors import BatchFormatError
from parsefleet.contract.names import QUEUES
from parsefleet.plumbing import dead_letter
from parsefleet.plumbing.broker import translated
from parsefleet.plumbing.dead_letter import DeadLetter
from parsefleet.plumbing.outbox import Outbox
from parsefleet.reading.report import RunState, recent_runs

__all__ = ["DeadLetterEntry", "FleetStatus", "dead_letter_entry", "fleet_status", "state_dict"]

Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class DeadLetterEntry:
    """One dead letter as shown: what it is, why it is there, and whether it can be replayed."""

    entry_id: str
    at: datetime
    reason: str
    batch: Batch | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data (file names, not contents)."""
        batch = self.batch
        return {
            "id": self.entry_id,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "batch_id": batch.batch_id if batch else None,
            "run_id": batch.run_id if batch else None,
            "language": batch.language if batch else None,
            "paths": [item.ref.path for item in batch.files] if batch else [],
        }

    def render(self) -> str:
        """One line for a terminal."""
        what = "undecodable payload"
        if self.batch is not None:
            what = f"{self.batch.language} batch {self.batch.batch_id} ({len(self.batch.files)} files)"
        return f"{self.entry_id}  {self.at:%Y-%m-%d %H:%M:%S}  {what}: {self.reason}"


def dead_letter_entry(item: DeadLetter) -> DeadLetterEntry:
    """A stored dead letter, its batch decoded when it can be."""
    try:
        batch: Batch | None = decode_batch(item.payload)
    except BatchFormatError:
        batch = None
    return DeadLetterEntry(item.entry_id, datetime.fromtimestamp(item.at_s, UTC), item.reason, batch)


@dataclass(frozen=True)
class FleetStatus:
    """What ``parsefleet status`` shows (and the console's fleet page, with the dead letters)."""

    queues: dict[str, int]
    in_flight: int
    dead_letter: int
    runs: list[RunState]
    dead_letters: list[DeadLetterEntry] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "queues": self.queues,
            "in_flight": self.in_flight,
            "dead_letter": self.dead_letter,
            "runs": [state_dict(r) for r in self.runs],
        }

    def render(self) -> str:
        """Text for a terminal."""
        lines = ["queues: " + ", ".join(f"{lang} {depth}" for lang, depth in self.queues.items())]
        lines.append(f"in flight: {self.in_flight} batches sent and not finished (queued or being parsed)")
        hint = " (parsefleet dead-letter list)" if self.dead_letter else ""
        lines.append(f"dead letters: {self.dead_letter}{hint}")
        for run in map(state_dict, self.runs):
            lines.append(
                f"run {run['run_id']} started {run['started_at']} batches {run['batches']} "
                f"files {run['files_done']} {run['status']}"
            )
        return "\n".join(lines)


def fleet_status(
    client: redis.Redis, redis_url: str, conn: Connection, limit: int, *, dead_letters: int = 0
) -> FleetStatus:
    """Queue depths, batches in flight, dead letters (the first ``dead_letters`` decoded) and the
    latest ``limit`` runs."""
    with translated(redis_url):
        depths = {language: int(client.llen(queue)) for language, queue in QUEUES.items()}
        dead = dead_letter.count(client)
        in_flight = Outbox(client).count()
        kept = dead_letter.entries(client)[:dead_letters] if dead_letters and dead else []
    entries = [dead_letter_entry(item) for item in kept]
    return FleetStatus(depths, in_flight, dead, recent_runs(conn, limit), entries)


def state_dict(state: RunState) -> dict[str, object]:
    """A run's state as JSON-ready data."""
    return {
        "run_id": state.run_id,
        "started_at": state.started_at.isoformat(),
        "status": state.status,
        "finished": state.finished,
        "batches": f"{state.batches_done}/{state.batches_total if state.batches_total is not None else '?'}",
        "files_done": state.files_done,
    }
