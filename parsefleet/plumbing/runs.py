"""Run completion: a run is finished when it is submitted and every batch has a result.

Workers call this after each commit, one statement each time. Until the producer has submitted
the run it costs one primary-key lookup; after that (only the batches still queued then) one
indexed count.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from parsefleet.plumbing.database import sql

__all__ = ["mark_finished_if_complete"]

_HERE = Path(__file__).parent


def mark_finished_if_complete(conn: psycopg.Connection[tuple[object, ...]], run_id: str) -> bool:
    """Set ``runs.finished_at`` when the run is complete; True when this call did it."""
    cursor = conn.execute(sql(_HERE, "finish_run"), {"run_id": run_id})
    return cursor.rowcount == 1
