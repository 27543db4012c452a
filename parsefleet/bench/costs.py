"""The cost of each part: per-task queue overhead, database write time per 1,000 files, and what the
telemetry flag adds to each batch."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from parsefleet.bench.corpus_files import BenchFile
from parsefleet.contract.batch import Batch, BatchFile, FileRef
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.database import session, sql
from parsefleet.producer.chunk import Chunker
from parsefleet.producer.enqueue import Enqueuer
from parsefleet.telemetry.emitter import Emitter
from parsefleet.workers.outcome import BatchOutcome, outline_batch
from parsefleet.workers.store import BatchTiming, Store, now_utc
from parsefleet.workers.tasks import figures_of

__all__ = ["db_write_ms_per_1000_files", "queue_overhead_ms", "telemetry_per_batch"]

_POLL_S = 0.02
_HERE = Path(__file__).parent


def queue_overhead_ms(settings: Settings, redis_url: str, database_url: str, batches: int = 200) -> float:
    """Worker time per empty batch (send, deliver, claim, commit, ack), running workers needed."""
    run_id = _bench_run(database_url, "bench: queue overhead")
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
    run_id = _bench_run(database_url, "bench: database writes")
    batches = []
    for language in sorted({f.language for f in files}):
        mine = [f for f in files if f.language == language]
        for start in range(0, len(mine), 100):
            items = tuple(_unseen(f) for f in mine[start : start + 100])
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


def telemetry_per_batch(
    settings: Settings, redis_url: str, database_url: str, files: Sequence[BenchFile]
) -> dict[str, float]:
    """What Step 2 adds to a batch after its outline: the batch_metrics row in the batch's commit,
    the statsd figures and the emission count. Each batch of ``files`` (chunked as the producer
    does) is outlined once and committed twice under fresh blob hashes, once without Step 2 and once
    with it, in alternating order; the figures are the medians of the pairs' differences.
    """
    run_id = _bench_run(database_url, "bench: telemetry per batch")
    outcomes = [outline_batch(batch, 60.0, None) for batch in _batches(settings, run_id, files)]
    store = Store(database_url)
    emitter = Emitter(replace(settings, redis_url=redis_url))
    wall_ms: list[float] = []
    cpu_ms: list[float] = []
    try:
        for index, outcome in enumerate(outcomes):
            order = (True, False) if index % 2 == 0 else (False, True)
            cost = {step2: _commit_cost(store, emitter, _fresh(outcome), step2=step2) for step2 in order}
            wall_ms.append(cost[True][0] - cost[False][0])
            cpu_ms.append(cost[True][1] - cost[False][1])
    finally:
        store.close()
    return {
        "batches": len(outcomes),
        "wall_ms": statistics.median(wall_ms) if wall_ms else 0.0,
        "cpu_ms": statistics.median(cpu_ms) if cpu_ms else 0.0,
    }


def _bench_run(database_url: str, what: str) -> str:
    """A run the store holds, for batches the bench commits itself."""
    run_id = str(uuid.uuid4())
    with session(database_url) as conn:
        conn.execute(sql(_HERE, "bench_run"), {"run_id": run_id, "what": what})
        conn.commit()
    return run_id


def _batches(settings: Settings, run_id: str, files: Sequence[BenchFile]) -> Iterator[Batch]:
    chunker = Chunker(run_id, settings.batch_max_bytes, settings.batch_max_files)
    for f in files:
        batch = chunker.add(_unseen(f))
        if batch is not None:
            yield batch
    yield from chunker.flush()


def _unseen(f: BenchFile) -> BatchFile:
    """``f`` as a batch item under a random blob hash, so that the store writes its outline in full."""
    return BatchFile(FileRef(0, str(f.path), os.urandom(20), f.language, len(f.content)), f.content)


def _fresh(outcome: BatchOutcome) -> BatchOutcome:
    """The same outlines as a batch never stored: a new batch id and new blob hashes."""
    batch = outcome.batch
    items = tuple(replace(item, ref=replace(item.ref, blob_hash=os.urandom(20))) for item in batch.files)
    files = tuple(replace(done, ref=item.ref) for done, item in zip(outcome.files, items, strict=True))
    return replace(outcome, batch=replace(batch, batch_id=str(uuid.uuid4()), files=items), files=files)


def _commit_cost(store: Store, emitter: Emitter, outcome: BatchOutcome, *, step2: bool) -> tuple[float, float]:
    """Wall and CPU milliseconds of one batch's commit, with Step 2's figures or without."""
    wall, cpu = time.perf_counter(), time.process_time()
    timing = BatchTiming("bench", 0.0, now_utc())
    store.write(outcome, timing, step2=step2)
    if step2:
        emitter.emit(figures_of(outcome, timing))
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000
