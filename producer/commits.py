"""What changed in a repository since the store last indexed it (pure, but for asking git).

Incremental: when the store holds the commit a repository was last indexed at and git still has
it, ``git diff-tree -r -z -M`` between the two commits names the files added, modified, deleted
and renamed, and only those are looked at. Otherwise (the first run, a directory read as it is, a
shallow clone cut before the indexed commit, a branch force-pushed past it and its objects gone)
the whole tree is compared with the store's current view, and the run says why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from parsefleet.contract.paths import to_text
from parsefleet.producer.records import Indexed
from parsefleet.producer.snapshot import Snapshot
from parsefleet.producer.tree import Change

__all__ = ["Since", "compared", "from_changes", "since"]


@dataclass(frozen=True)
class Since:
    """How a git snapshot is compared with the store: ``changes`` from the indexed commit, or None
    for the whole tree (``note`` says why when the store had a commit)."""

    changes: list[Change] | None
    note: str | None = None


def since(snapshot: Snapshot, indexed_commit: str | None) -> Since:
    """The changes from ``indexed_commit`` to the snapshot's commit, when git can tell them."""
    repository, commit = snapshot.repository, snapshot.commit
    if repository is None or commit is None or indexed_commit is None:
        return Since(None)
    short = indexed_commit[:12]
    if repository.commit_of(indexed_commit) is None:
        return Since(
            None, f"indexed commit {short} is not in the repository (shallow or force-pushed): whole tree listed"
        )
    if indexed_commit == commit:
        return Since([])
    changes = repository.changes(indexed_commit, commit)
    if changes is None:
        return Since(None, f"git cannot compare {short} with {commit[:12]}: whole tree listed")
    return Since(changes)


def compared(stored: dict[str, bytes], recorded: dict[str, bytes], commit: str | None, note: str | None) -> Indexed:
    """A whole listing (``recorded``: path to blob of every file the run recorded) against the store's
    current view: renames are files that left with the blob a new path came with."""
    added = [path for path in recorded if path not in stored]
    modified = sum(1 for path, blob in recorded.items() if path in stored and stored[path] != blob)
    removed = tuple(sorted(path for path in stored if path not in recorded))
    pool = Counter(stored[path] for path in removed)
    renamed = 0
    for path in added:
        if pool[recorded[path]] > 0:
            pool[recorded[path]] -= 1
            renamed += 1
    mode = "walk" if commit is None else "full"
    return Indexed(
        commit, mode, note, len(added) - renamed, modified, len(removed) - renamed, renamed, 0, 0, removed, None
    )


def from_changes(changes: list[Change], recorded: dict[str, bytes], commit: str, note: str | None) -> Indexed:
    """Changes from git against what the run recorded: a changed file the run did not record (skipped,
    refused) leaves the current view, as do deleted files and the old paths of renamed ones."""
    kinds = Counter(change.kind for change in changes)
    gone = {to_text(change.path) for change in changes if change.kind == "D"}
    gone.update(to_text(change.old_path) for change in changes if change.old_path is not None)
    gone.update(
        to_text(change.path) for change in changes if change.kind != "D" and to_text(change.path) not in recorded
    )
    gone.difference_update(recorded)  # a path renamed away and added again stays
    touched = gone | {to_text(change.path) for change in changes}
    return Indexed(
        commit, "incremental", note, kinds["A"], kinds["M"], kinds["D"], kinds["R"], 0, 0,
        tuple(sorted(gone)), tuple(sorted(touched)),
    )  # fmt: skip
