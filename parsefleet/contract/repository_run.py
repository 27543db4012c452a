"""What one run did to one repository: the producer records it, the report reads it back."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RepositoryRun"]


@dataclass(frozen=True)
class RepositoryRun:
    """The commit indexed (None: a directory read as it is), how the run compared it with the store
    (``incremental``: git's changes since the indexed commit; ``full``: the whole tree against the
    current view; ``walk``: a directory's files), why when the store's commit could not be used
    (``note``), the files added, modified, deleted and renamed, the blobs sent, and those the store
    (or the run) already knew."""

    commit_id: str | None
    mode: str
    note: str | None
    added: int
    modified: int
    deleted: int
    renamed: int
    sent: int
    known: int
