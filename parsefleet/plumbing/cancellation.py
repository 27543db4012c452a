"""Cancelling a run: its queued batches withdrawn, the run marked cancelled, its accounting closed.

The batches of the run still in the outbox are withdrawn: first out of the outbox (so no sweep
sends them again, and a worker that takes one of their messages finds nothing to do), then out of
their queues; each gets a result row whose files are ``cancelled``. A batch a worker holds at that
moment is parsed and stored as usual: whichever commits first, the worker or the cancel, keeps its
row (the claim by batch id), so every file is counted once. A run whose producer stopped before
submitting it is submitted with what it had sent; the versions it held without a batch (history
mode) are recorded in batches of their own, cancelled. The run then finishes like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from parsefleet.contract.batch import decode_batch
from parsefleet.contract.errors import BatchFormatError, RunNotFound
from parsefleet.contract.names import OUTBOX_KEY, OUTBOX_META_KEY, OUTBOX_MISSING_KEY, QUEUES
from parsefleet.plumbing.database import sql
from parsefleet.plumbing.outbox import payload_of
from parsefleet.plumbing.runs import mark_finished_if_complete

__all__ = ["Cancellation", "cancel_run", "forget_commits"]

_HERE = Path(__file__).parent
_WITHDRAW = (_HERE / "lua" / "withdraw_tasks.lua").read_text()
Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What cancelling a run did."""

    run_id: str
    batches_withdrawn: int
    files_withdrawn: int
    finished_before: bool  # the run had finished already: nothing was withdrawn, nothing changed
    cancelled_before: bool = False  # ... and it had been cancelled

    def render(self) -> str:
        """One line for a person."""
        if self.cancelled_before:
            return f"run {self.run_id} was cancelled already; nothing to do"
        if self.finished_before:
            return f"run {self.run_id} had finished already; nothing to cancel"
        return (
            f"run {self.run_id} cancelled: {self.batches_withdrawn} queued batches withdrawn"
            f" ({self.files_withdrawn} files); batches being parsed finish and are kept"
        )


def cancel_run(conn: Connection, client: redis.Redis, run_id: str) -> Cancellation:
    """Cancel ``run_id``: RunNotFound when no such run. Redis and psycopg errors propagate (the
    caller translates them); repeating a cancel is harmless."""
    conn.execute(sql(_HERE, "held_cancelled"), {"run_id": run_id})
    row = conn.execute(sql(_HERE, "cancel_run"), {"run_id": run_id}).fetchone()
    if row is None:
        raise RunNotFound(f"no run {run_id}")
    conn.execute(sql(_HERE, "missing_inputs"), {"run_id": run_id})
    conn.commit()
    if row[0]:
        return Cancellation(run_id, 0, 0, finished_before=True, cancelled_before=bool(row[1]))
    forget_commits(conn, run_id)
    conn.commit()
    batches, files = _withdraw(conn, client, run_id)
    mark_finished_if_complete(conn, run_id)
    conn.commit()
    return Cancellation(run_id, batches, files, finished_before=False)


def forget_commits(conn: Connection, run_id: str) -> None:
    """The repositories a run indexed forget their commit (the run was cancelled or stopped before
    it had sent everything): their next run compares the whole tree with the store, and sends
    what this one did not get parsed. Not committed here."""
    conn.execute(sql(_HERE, "forget_commits"), {"run_id": run_id})


def _withdraw(conn: Connection, client: redis.Redis, run_id: str) -> tuple[int, int]:
    kept = [key.decode() if isinstance(key, bytes) else str(key) for key in client.hkeys(OUTBOX_KEY)]
    if not kept:
        return 0, 0
    ours = [str(found[0]) for found in conn.execute(sql(_HERE, "run_batches"), {"ids": kept, "run_id": run_id})]
    if not ours:
        return 0, 0
    records = client.hmget(OUTBOX_KEY, ours)
    pipe = client.pipeline(transaction=True)
    pipe.hdel(OUTBOX_KEY, *ours)
    pipe.hdel(OUTBOX_MISSING_KEY, *ours)
    pipe.hdel(OUTBOX_META_KEY, *ours)
    pipe.execute()
    client.eval(_WITHDRAW, len(QUEUES), *QUEUES.values(), *ours)
    files = 0
    for batch_id, record in zip(ours, records, strict=True):
        files += _record_cancelled(conn, run_id, batch_id, payload_of(record))
    return len(ours), files


def _record_cancelled(conn: Connection, run_id: str, batch_id: str, payload: bytes | None) -> int:
    if payload is None:  # finished (and forgotten) between the listing and the withdrawal
        return 0
    language, files = _size_of(conn, batch_id, payload)
    params = {"batch_id": batch_id, "run_id": run_id, "language": language, "files": files}
    inserted = conn.execute(sql(_HERE, "cancelled_batch"), params).rowcount
    return files if inserted else 0


def _size_of(conn: Connection, batch_id: str, payload: bytes) -> tuple[str, int]:
    """(language, files) of a withdrawn batch: from its payload, or as the producer recorded it."""
    try:
        batch = decode_batch(payload)
    except BatchFormatError:
        row = conn.execute(sql(_HERE, "batch_size"), {"batch_id": batch_id}).fetchone()
        return (str(row[0]), int(str(row[1]))) if row else ("unknown", 0)
    return batch.language, len(batch.files)
