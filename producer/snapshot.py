"""What a run reads from each target: a git commit's tree, or a directory's files as they are.

A target is read from git (``parsefleet.producer.tree``) when it is a bare repository, when
``--rev`` names a commit, or when it is a clean work tree whose ``HEAD`` holds it: its files are
the commit's blobs, nothing in the work tree is opened. A work tree with uncommitted changes in a
file parsefleet parses is read as it is (``parsefleet.producer.walk``), and the run says so; so
is a directory that git does not hold.

Each target has a repository name: ``--name``, else a mirror's ``origin`` URL (credentials
removed), else the target's absolute path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from parsefleet.contract.errors import InputError, NoSupportedFiles, UnknownRevision
from parsefleet.contract.languages import language_for
from parsefleet.contract.paths import to_bytes, to_text
from parsefleet.contract.settings import Settings
from parsefleet.producer.git import Git
from parsefleet.producer.tree import GitRepository, TreeEntry, open_repository, require_repository
from parsefleet.producer.walk import Listed, discover

_REGULAR = "100644"
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256: never an option to git

__all__ = ["DIRTY_NOTE", "Plan", "Snapshot", "plan_targets", "refresh", "snapshot_of"]

DIRTY_NOTE = "uncommitted changes: the work tree is indexed as it is, not a commit"


@dataclass(frozen=True)
class Snapshot:
    """One target of a run: its ``root`` (where it is read), its repository ``name``, and either a
    commit of ``repository`` with that commit's ``tree``, or the ``walked`` listing of its files."""

    root: Path
    name: str
    repository: GitRepository | None = None
    commit: str | None = None
    tree: list[TreeEntry] = field(default_factory=list)
    walked: list[Listed] = field(default_factory=list)
    note: str | None = None
    refresh: bool = False  # parse these files again; the repository's current view stays as it is
    lazy: bool = False  # ``tree`` not listed yet: ``listing()`` lists it (only a run that needs it)
    nonempty: bool = False  # a lazy snapshot's commit holds supported files
    # history mode: how many commits of the same history follow this one in the run (None: not a
    # history); the run batches each file's versions together (producer/submission.py)
    history_left: int | None = None

    def listing(self) -> list[TreeEntry]:
        """The commit's tree, listed now if it was not."""
        if self.lazy and self.repository is not None and self.commit is not None:
            return self.repository.tree(self.commit)
        return self.tree

    @property
    def files(self) -> int:
        """How many supported files were listed up front (a lazy snapshot's are listed by its run)."""
        return len(self.tree) if self.commit is not None else len(self.walked)


@dataclass(frozen=True)
class Plan:
    """How a target of a run looked at up front (``plan_targets``: --rev, --name, --history,
    --since; reindex) is read, stored with the run (``runs.target_plans``) so that a resumed
    producer reads each target left exactly so: its repository ``name``, the ``commit`` (None: as
    a streamed target is, from its HEAD or its files as they are), the commits of its history that
    follow; ``refresh``: a reindex (not resumed: run it again)."""

    name: str
    commit: str | None = None
    history_left: int | None = None
    refresh: bool = False
    note: str | None = None  # a directory read as it is: why (uncommitted changes), or None

    @classmethod
    def of(cls, snapshot: Snapshot) -> Plan:
        """The plan ``snapshot`` was made by."""
        return cls(snapshot.name, snapshot.commit, snapshot.history_left, snapshot.refresh, snapshot.note)

    def stored(self) -> dict[str, object]:
        """As ``runs.target_plans`` keeps it (JSON)."""
        return {
            "name": self.name, "commit": self.commit, "history_left": self.history_left, "refresh": self.refresh,
            "note": self.note,
        }  # fmt: skip

    @classmethod
    def from_stored(cls, value: object) -> Plan | None:
        """A plan kept by ``stored`` (None for a streamed target's null)."""
        if not isinstance(value, dict):
            return None
        left = value.get("history_left")
        commit = value.get("commit")
        if commit is not None and not _COMMIT_ID.fullmatch(str(commit)):
            raise InputError(f"a stored target plan names no commit id: {str(commit)[:80]!r}")
        note = value.get("note")
        return cls(
            str(value["name"]), None if commit is None else str(commit), None if left is None else int(str(left)),
            bool(value.get("refresh")), None if note is None else str(note),
        )  # fmt: skip

    def snapshot(self, target: Path, settings: Settings) -> Snapshot:
        """``target`` looked at again by this plan (a resumed run): a directory read as it is is
        walked again (whatever git now says of it), a commit read from git; InputError when it
        cannot be."""
        if self.commit is None:
            repository = open_repository(target) if target.is_dir() else None
            git = None if repository is None or repository.bare else repository.git  # made inert already
            return _walked(target, settings, self.name, self.note, git)
        if not target.is_dir():
            _walked(target, settings, self.name, None)  # raises the walk's error for a bad path
        return replace(_committed(require_repository(target), self.commit, self.name), history_left=self.history_left)


def plan_targets(
    targets: Sequence[Path],
    settings: Settings | None = None,
    *,
    revision: str | None = None,
    name: str | None = None,
    history: int | None = None,
    since: str | None = None,
) -> list[Snapshot]:
    """Look at every target up front, so that bad targets fail before anything starts. ``settings``
    gives ``follow_hardlinks`` and ``include_vendored`` (default: neither); ``revision`` the commit
    to read from each (a git repository then, else NotARepository); ``name`` the repository name
    (one target only); ``history`` the number of last commits to index one after the other, or
    ``since`` the commit after which to index each (git repositories only)."""
    if name is not None and len(targets) != 1:
        raise InputError("--name names one repository: give one target")
    if name is not None and (not name.strip() or "\0" in name):
        raise InputError("--name needs a non-empty name")
    rules = settings or Settings()
    if history is not None or since is not None:
        plan = [item for target in targets for item in _history(target, revision, name, history, since)]
    else:
        plan = [_snapshot(target, rules, revision, name) for target in targets]
    if not any(snapshot.files or snapshot.nonempty for snapshot in plan):
        names = ", ".join(str(target) for target in targets)
        raise NoSupportedFiles(f"{names}: no .py, .go or .rs file to parse")
    return plan


def snapshot_of(target: Path, settings: Settings) -> Snapshot:
    """One target looked at (its HEAD, or its files as they are), named by default: how a streamed
    run (`--from`, producer/targets.py) reads each of its targets when it comes to it."""
    return _snapshot(target, settings, None, None)


def _snapshot(target: Path, settings: Settings, revision: str | None, name: str | None) -> Snapshot:
    if revision is not None:
        if not target.is_dir():
            return _walked(target, settings, name, None)  # raises the walk's error for a bad path
        named = require_repository(target)
        return _committed(named, named.resolve(revision), name)
    repository = open_repository(target) if target.is_dir() else None
    head, dirty = (None, False) if repository is None else repository.state()
    git = None if repository is None or repository.bare else repository.git  # made inert already
    if repository is None or head is None:  # not git, or no commit yet
        return _walked(target, settings, name, None, git)
    if dirty:
        return _walked(target, settings, name, DIRTY_NOTE, git)
    try:  # a large tree is listed by the run only when it compares it whole (not a nightly run's)
        return _committed(repository, head, name, small=repository.small_tree(head))
    except UnknownRevision:  # the target is not in HEAD's tree (ignored or untracked): as it is
        return _walked(target, settings, name, None)


def _history(
    target: Path, revision: str | None, name: str | None, count: int | None, since: str | None
) -> list[Snapshot]:
    """One snapshot per commit of the history, oldest first; each lists its tree only when the run
    needs it (the first, when the store has no commit to start from)."""
    if count is not None and count < 1:
        raise InputError("--history needs 1 or more commits")
    if not target.is_dir():
        _walked(target, Settings(), name, None)  # raises the walk's error for a bad path
    repository = require_repository(target)
    tip = repository.resolve(revision or "HEAD")
    start = None if since is None else repository.resolve(since)
    commits = repository.history(tip, count=count, since=start)
    if not commits:
        raise InputError(f"{target}: no commit after {since} up to {revision or 'HEAD'}")
    first = replace(_committed(repository, commits[0], name), history_left=len(commits) - 1)
    rest = [
        replace(first, commit=commit, nonempty=repository.has_files(commit), history_left=len(commits) - 1 - index)
        for index, commit in enumerate(commits[1:], start=1)
    ]
    return [first, *rest]


def _committed(
    repository: GitRepository, commit: str, name: str | None, *, small: list[TreeEntry] | None = None
) -> Snapshot:
    """A commit's snapshot: with its ``small`` tree listed already, or its tree listed when the run
    needs it (``Snapshot.listing``): a run that starts from an indexed commit asks git what changed
    and never lists a large tree, so that its cost stays in proportion to the change.
    UnknownRevision when the target is not in the commit's tree."""
    default = (repository.remote_url() if repository.bare else None) or to_text(str(repository.root))
    if small is not None:
        return Snapshot(repository.root, name or default, repository, commit, small, nonempty=bool(small))
    nonempty = repository.has_files(commit)
    return Snapshot(repository.root, name or default, repository, commit, lazy=True, nonempty=nonempty)


def _walked(target: Path, settings: Settings, name: str | None, note: str | None, git: Git | None = None) -> Snapshot:
    rules = {"follow_hardlinks": settings.follow_hardlinks, "include_vendored": settings.include_vendored}
    walked = list(discover(target, **rules, git=git))
    root = target.resolve()
    return Snapshot(root, name or to_text(str(root)), walked=walked, note=note)


def refresh(name: str, location: str, commit: str | None, files: Sequence[tuple[str, bytes, int]]) -> Snapshot | None:
    """A snapshot that parses ``files`` (stored path, blob id, size in bytes) of repository ``name``
    again: from git by blob id when ``location`` is a git repository and the repository was indexed
    at a commit, else from the disk (a file changed since is sent as it is now). None when
    ``location`` is gone."""
    root = Path(os.fsdecode(to_bytes(location)))
    if not root.is_dir():
        return None
    names = [(os.fsdecode(to_bytes(path)), blob, size) for path, blob, size in files]
    repository = open_repository(root) if commit is not None else None
    if repository is not None and commit is not None:
        tree = [TreeEntry(path, _REGULAR, blob, size) for path, blob, size in names]
        return Snapshot(root, name, repository, commit, tree, refresh=True)
    walked = [Listed(path, language) for path, _blob, _size in names if (language := language_for(path)) is not None]
    return Snapshot(root.resolve(), name, walked=walked, refresh=True)
