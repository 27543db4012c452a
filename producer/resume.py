"""A run as its producer left it, read back from PostgreSQL, so that another producer can go on.

The producer records each window in one transaction *before* it sends the window's batches: the
window's files (each with the batch that carries it), its batches, refusals, the targets it
finished, the run's counts so far and the position to go on from (next target, the last path of
its listing read, batch sequence). Whenever the producer dies (``kill -9`` while listing, reading or
sending, or after its last batch), the committed state says exactly what the run holds:

- a window not committed was never sent: its files are read again by the resumed producer;
- a batch recorded but found neither on Redis (the outbox keeps every batch until its result is
  committed) nor with a result was never sent: it is rebuilt from its files, read again, and sent
  under its own id, once;
- a batch on Redis or with a result is left alone: nothing is sent twice;
- history mode: the versions read and held, not yet batched (``run_held``), are held again, read
  by blob id from their repository, and leave with the held versions the resumed producer reads.

The resumed producer lists the targets from the recorded position on (those with a ``run_targets``
row are done) with the same rules; a target looked at up front (--rev, --name, --history, --since)
is read by its stored plan: the same commit, name and place in its history. A reindex is not
resumed (it is run again). A target read in part goes on after the last path read (listings are
in the byte order of their paths): a file added or deleted since moves nothing. A file changed
between the producer's death and the resume is sent as it is now.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from parsefleet.contract.batch import FileRef
from parsefleet.contract.errors import InputError, RunNotFound
from parsefleet.contract.paths import to_bytes
from parsefleet.contract.settings import Settings
from parsefleet.producer.records import Ledger
from parsefleet.producer.snapshot import Plan
from parsefleet.producer.targets import Target

# A file a recorded batch carries, or a held version: (repository location, repository id, stored
# path, language, blob id, whether it is a held version: read from git only).
Carried = tuple[Path, int, str, str, bytes, bool]

__all__ = [
    "Carried",
    "Point",
    "batch_files",
    "held_refs",
    "held_versions",
    "load_point",
    "open_batches",
    "resume_point",
]


@dataclass
class Point:
    """Where a run's producer stopped, and the run's committed counts."""

    run_id: str
    targets: list[Target]  # those still to do
    offsets: dict[int, int | str]  # ordinal -> last path read (stored form), for targets read in part
    sequence: int  # the last batch sequence number used
    step: int  # the ledger's last committed write
    ci: bool
    submitted: bool
    batches: int
    plans: dict[int, Plan]  # ordinal -> how a target looked at up front is read (those still to do)
    seen: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    met: set[tuple[str, bytes]] = field(default_factory=set)


def resume_point(settings: Settings, database_url: str, run_id: str) -> Point:
    """Where the producer of ``run_id`` stopped (see ``load_point``), to go on from; InputError for
    a reindex stopped mid-way (run again instead)."""
    ledger = Ledger(database_url, run_id, settings.database_retry_s)
    try:
        point = load_point(ledger)
    finally:
        ledger.close()
    if not point.submitted and any(plan.refresh for plan in point.plans.values()):
        raise InputError(
            f"run {run_id} is a reindex, which is not resumed: parsefleet cancel {run_id}, then run parsefleet reindex"
            " again"
        )
    return point


def load_point(ledger: Ledger) -> Point:
    """The committed state of ``ledger``'s run; RunNotFound when there is none, InputError when it
    was cancelled (a cancelled run is not resumed)."""
    params: dict[str, object] = {"run_id": ledger.run_id}
    rows = ledger.read("resume_run", params)
    if not rows:
        raise RunNotFound(f"no run {ledger.run_id}")
    targets, origins, stored_plans, offsets, sequence, step, ci, submitted, cancelled, batches, done = rows[0]
    if cancelled:
        raise InputError(f"run {ledger.run_id} was cancelled; submit its targets again as a new run")
    finished = {int(str(number)) for number in _listed(done)}
    names, wheres = _listed(targets), _listed(origins)
    todo = [
        Target(number, _path(name), str(wheres[number - 1]) if wheres else f"target {number}")
        for number, name in enumerate(names, 1)
        if number not in finished
    ]
    plans = {number: plan for number, plan in _plans(stored_plans).items() if number not in finished}
    point = Point(
        ledger.run_id, todo, _offsets(offsets), int(str(sequence)), int(str(step)), bool(ci), bool(submitted),
        int(str(batches)), plans,
    )  # fmt: skip
    _load_counts(ledger, point)
    return point


def _plans(stored: object) -> dict[int, Plan]:
    """The stored plans by ordinal (a streamed run stores none)."""
    found = (Plan.from_stored(value) for value in _listed(stored))
    return {number: plan for number, plan in enumerate(found, 1) if plan is not None}


def _offsets(stored: object) -> dict[int, int | str]:
    """The last path read of each target read in part (a count of files, from a producer of before)."""
    assert isinstance(stored, dict)
    return {int(ordinal): at if isinstance(at, str) else int(at) for ordinal, at in stored.items()}


def _path(stored: object) -> Path:
    return Path(os.fsdecode(to_bytes(str(stored))))


def _listed(value: object) -> list[object]:
    assert isinstance(value, list)
    return value


def _load_counts(ledger: Ledger, point: Point) -> None:
    for what, language, reason, files in ledger.read("resume_counts", {"run_id": point.run_id}):
        count, lang, why = int(str(files)), str(language), str(reason)
        if what == "seen":
            point.seen[lang] = count
        elif what == "sent":
            point.sent[lang] = count
        elif what == "skipped":
            point.skipped[lang, why] = count
        else:
            point.refused[lang, why] = count
    for language, blob in ledger.read("resume_met", {"run_id": point.run_id}):
        if isinstance(blob, bytes):
            point.met.add((str(language), blob))


def open_batches(ledger: Ledger) -> list[tuple[str, str, int]]:
    """The run's recorded batches without a result: (id, language, files)."""
    return [(str(a), str(b), int(str(c))) for a, b, c in ledger.read("open_batches", {"run_id": ledger.run_id})]


def batch_files(ledger: Ledger, batch_id: str) -> list[Carried]:
    """The files a recorded batch carried, a file's versions in commit order (history mode)."""
    return _carried(ledger.read("batch_files", {"run_id": ledger.run_id, "batch_id": batch_id}))


def held_versions(ledger: Ledger) -> list[Carried]:
    """The versions the run's producer held and had not batched (history mode), in the order read."""
    return _carried(ledger.read("held_versions", {"run_id": ledger.run_id}))


def _carried(rows: list[tuple[object, ...]]) -> list[Carried]:
    return [
        (_path(root), int(str(repository)), str(path), str(language), bytes(blob), bool(held))
        for root, repository, path, language, blob, held in rows
        if isinstance(blob, bytes | memoryview)
    ]


def held_refs(ledger: Ledger) -> list[FileRef]:
    """The versions the run's producer holds without a batch (history mode), in the order read."""
    return [
        FileRef(int(str(repository)), str(path), bytes(blob), str(language), int(str(size)))
        for repository, path, blob, language, size in ledger.read("held_refs", {"run_id": ledger.run_id})
        if isinstance(blob, bytes | memoryview)
    ]
