"""Poison batches: a batch whose worker keeps dying is split in halves until the file that does it
is alone, and that file is recorded as failure ``crash`` without being parsed again.

The halves are new batches with derived ids (``<id>.0``, ``<id>.1``) and their own attempt
counters; the run's accounting is in workers/store.py (``Store.split``) and common/runs.py.
"""

from __future__ import annotations

from parsefleet.contract.batch import Batch
from parsefleet.workers.outcome import BatchOutcome, FileOutcome

__all__ = ["CRASH", "crash_outcome", "halves"]

CRASH = "crash"


def halves(batch: Batch) -> tuple[Batch, Batch]:
    """The two batches that replace ``batch`` (it must hold two files or more)."""
    if len(batch.files) < 2:
        raise ValueError(f"batch {batch.batch_id} has {len(batch.files)} file(s): nothing to split")
    middle = len(batch.files) // 2
    return (
        Batch(f"{batch.batch_id}.0", batch.run_id, batch.language, batch.files[:middle]),
        Batch(f"{batch.batch_id}.1", batch.run_id, batch.language, batch.files[middle:]),
    )


def crash_outcome(batch: Batch, deaths: int) -> BatchOutcome:
    """Every file of ``batch`` (one, after splitting) failed as ``crash``, without parsing it again."""
    message = (
        f"its worker died {deaths} times while parsing it (segfault, OOM kill or hard time limit); not parsed again"
    )
    return BatchOutcome(batch, tuple(FileOutcome(item.ref, None, CRASH, message) for item in batch.files), 0.0)
