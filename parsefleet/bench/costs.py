"""The cost of each part: per-task queue overhead and database write time per 1,000 files."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence

from common.batch import Batch, BatchFile, FileRef
from common.database import session
from common.settings import Settings
from parsefleet.bench.corpus_files import BenchFile
from producer.enqueue import Enqueuer
from workers.outcome import outline_batch
from workers.store import BatchTiming, Store, now_utc

__all__ = ["db_write_ms_per_1000_files", "queue_overhead_ms"]

_POLL_S = 0.02


def queue_overhead_ms(settings: Settings, redis_url: str, database_url: str, batches: int = 200) -> float:
    """Worker time per empty batch (send, deliver, claim, commit, ack), running workers needed."""
    run_id = str(uuid.uuid4())
    enqueuer = Enqueuer(settings, redis_url)
    started = time.perf_counter()
    try:
        for index in range(batches):
            enqueuer.send(Batch(f"{run_id}:{index:06d}", run_id, "python", ()))
    finally:
        enqueuer.close()
    with session(database_url) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM batch_results WHERE run_id = %s", (run_id,)).fetchone()
            conn.commit()
            if row is not None and int(str(row[0])) >= batches:
                break
            time.sleep(_POLL_S)
    return (time.perf_counter() - started) * settings.concurrency / batches * 1000


def db_write_ms_per_1000_files(settings: Settings, database_url: str, files: Sequence[BenchFile]) -> float:
    """Outline ``files`` here, then time only the Store writes (fresh blob hashes, so full writes)."""
    run_id = str(uuid.uuid4())
    batches = []
    for language in sorted({f.language for f in files}):
        mine = [f for f in files if f.language == language]
        for start in range(0, len(mine), 100):
            items = tuple(
                BatchFile(FileRef(0, str(f.path), os.urandom(20), language, len(f.content)), f.content)
                for f in mine[start : start + 100]
            )
            batches.append(Batch(f"{run_id}:{language}:{start}", run_id, language, items))
    outcomes = [outline_batch(batch, 60.0, None) for batch in batches]
    store = Store(database_url)
    timing = BatchTiming("bench", None, now_utc())
    started = time.perf_counter()
    for outcome in outcomes:
        store.write(outcome, timing)
    elapsed_s = time.perf_counter() - started
    store.close()
    return elapsed_s / max(1, len(files)) * 1_000_000
