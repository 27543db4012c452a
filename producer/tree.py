"""A git repository read at a commit, from git's own objects: blob ids, sizes and contents.

A work tree or a bare mirror (``git clone --mirror``) is listed with ``git ls-tree -r -z -l`` at a
commit, compared with another commit with ``git diff-tree -r -z -M --raw`` (renames found), and
its blobs are read with ``git cat-file --batch``: an unchanged file is neither read nor hashed, and
nothing in the work tree is opened. git runs only through ``parsefleet.producer.git``, with the
repository's power to run programs taken away (no filter, textconv or hook applies to
``ls-tree``, ``diff-tree`` or ``cat-file --batch`` anyway).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

from parsefleet.contract.errors import NotARepository, UnknownRevision
from parsefleet.contract.languages import SUFFIXES, language_for
from parsefleet.contract.paths import to_text
from parsefleet.producer.git import Git, find_work_tree

__all__ = ["Change", "GitRepository", "TreeEntry", "open_repository", "without_credentials"]

_REGULAR_MODES = frozenset({"100644", "100755"})
_SYMLINK_MODE = "120000"
_GITLINK_MODE = "160000"  # a submodule: a commit of another repository, not a file
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")
_BLOBS_PER_CALL = 2000  # object ids given to one cat-file
_SKIP_CHUNK_BYTES = 1024 * 1024  # a blob too large to keep is read past this much at a time
_SMALL_TREE_BYTES = 64 * 1024  # of ``ls-tree`` output (about 700 files): a tree listed whole up front
_SUPPORTED_SUFFIXES = tuple(suffix.encode() for suffix in SUFFIXES)
# a name ending in a supported suffix, in ``ls-tree -z --name-only`` output (not a bare ".py")
_SUPPORTED_NAME = re.compile(b"[^/\0](?:" + b"|".join(re.escape(s) for s in _SUPPORTED_SUFFIXES) + b")(?:\0|$)")
# HEAD naming a branch (``git init``'s "ref: refs/heads/main"), in names git's files backend stores as
# they are; anything else (detached, odd names) is left to git
_SYMBOLIC_HEAD = re.compile(rb"ref: (refs/heads/[A-Za-z0-9_][A-Za-z0-9_/-]*)\n?")
_OBJECT_ID = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")
# fields before the path in each kind of ``git status --porcelain=v2`` record: changed, unmerged,
# untracked (a rename's record is not read: it counts as a change)
_STATUS_FIELDS = {b"1 ": 8, b"u ": 10, b"? ": 1}
# files of a git directory where a branch's commit could be other than its loose ref: packed refs,
# the reftable backend, a shared repository's common directory
_OTHER_REF_STORES = ("packed-refs", "reftable", "commondir")


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """A file of a commit with a supported extension: path relative to the target, git mode, blob id
    (raw bytes) and size in bytes (None until asked: ``GitRepository.sizes``)."""

    path: str  # '/'-separated; undecodable bytes as surrogates (os.fsdecode), as the walk gives them
    mode: str
    blob: bytes
    size_bytes: int | None = None

    @property
    def skip(self) -> str | None:
        """Why the file is not read, by its mode alone: a symbolic link, or not a regular file."""
        if self.mode == _SYMLINK_MODE:
            return "symlink"
        return None if self.mode in _REGULAR_MODES else "not-regular"


@dataclass(frozen=True, slots=True)
class Change:
    """One file changed between two commits: ``kind`` is A (added), M (modified), D (deleted) or
    R (renamed, ``old_path`` its former path); ``entry`` is None for a deletion."""

    kind: str
    path: str
    old_path: str | None
    entry: TreeEntry | None


def without_credentials(url: str) -> str:
    """A remote URL with any ``user:password@`` removed (a repository's name is shown and stored)."""
    return _USERINFO.sub(r"\1", url)


class GitRepository:
    """A target that git holds: a work tree (``prefix``: the target's path inside it) or a bare
    repository."""

    def __init__(self, git: Git, root: Path, prefix: str) -> None:
        self.git = git
        self.root = root
        self.prefix = prefix

    @property
    def bare(self) -> bool:
        """Whether the repository has no work tree (a mirror)."""
        return self.git.work_tree is None

    def resolve(self, revision: str) -> str:
        """The commit id ``revision`` names, or UnknownRevision."""
        commit = self.commit_of(revision)
        if commit is None:
            raise UnknownRevision(f"{self.root}: unknown revision {revision!r}")
        return commit

    def head(self) -> str | None:
        """The commit ``HEAD`` names, None when it has none: a branch without a commit yet (as a
        fresh ``git init`` is) is told from the ref files alone, without starting git."""
        return None if _unborn(self.git.git_dir) else self.commit_of("HEAD")

    def commit_of(self, revision: str) -> str | None:
        """The commit id ``revision`` names, None when the repository has no such commit (a shallow
        clone cut before it, a branch force-pushed past it and its objects pruned)."""
        if not revision or revision.startswith("-") or "\0" in revision:
            return None
        done = self.git.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}")
        if done is None or done.returncode != 0:
            return None
        return done.stdout.decode("ascii", "replace").strip() or None

    def history(self, tip: str, *, count: int | None = None, since: str | None = None) -> list[str]:
        """The commits up to ``tip`` along its first parents, oldest first: the last ``count``, or
        those after ``since`` (a commit id)."""
        limit = [] if count is None else ["-n", str(count)]
        span = [tip] if since is None else [f"^{since}", tip]
        done = self.git.run("rev-list", "--first-parent", *limit, "--end-of-options", *span)
        if done is None or done.returncode != 0:
            raise UnknownRevision(f"{self.root}: cannot list the history of {tip[:12]}")
        return list(reversed(done.stdout.decode("ascii", "replace").split()))

    def remote_url(self) -> str | None:
        """The fetch URL of ``origin``, without credentials, or None (from the configuration read when
        git was made inert)."""
        url = to_text(self.git.origin_url or b"")  # any bytes: stored losslessly, never a crash
        return without_credentials(url) if url else None

    def state(self) -> tuple[str | None, bool]:
        """The commit ``HEAD`` names (``head``) and whether the work tree differs from it in a file
        parsefleet parses (changed, staged, deleted or untracked and not ignored; never for a bare
        repository): for a work tree with a commit, one ``git status`` tells both."""
        if self.bare or _unborn(self.git.git_dir):
            return self.head(), False
        done = self.git.run(
            "status",
            "--porcelain=v2",
            "--branch",
            "-z",
            "--untracked-files=all",
            "--no-renames",
            "--ignore-submodules=all",
            "--",
            ".",
        )  # never into a submodule: its own configuration is not made inert
        if done is None or done.returncode != 0:
            return self.head(), True  # cannot tell: read the work tree as it is
        told, head, dirty = _status(done.stdout)
        return (head if told else self.commit_of("HEAD")), dirty

    def tree(self, commit: str) -> list[TreeEntry]:
        """Every supported file of ``commit`` under the target, in the byte order of their paths (git's
        own; a resumed run goes on after the last path read), sizes not asked: with loose objects,
        ``ls-tree -l`` opens every one of them."""
        return sorted(_entries(self._ls_tree(commit)), key=_path_bytes)

    def small_tree(self, commit: str) -> list[TreeEntry] | None:
        """``tree(commit)`` when git lists it in no more than ``_SMALL_TREE_BYTES`` (a small
        repository: its tree is listed once, where ``has_files`` would have run git as well); None
        when the listing is longer, or fails."""
        output = self.git.read(_head_bytes, "ls-tree", "-r", "-z", "--full-tree", self._tree_of(commit))
        if output is None or len(output) > _SMALL_TREE_BYTES:
            return None
        return sorted(_entries(output), key=_path_bytes)

    def has_files(self, commit: str) -> bool:
        """Whether ``commit`` holds a supported file under the target (UnknownRevision when the target
        is not in its tree)."""
        found = self.git.finds(
            _SUPPORTED_NAME, "ls-tree", "-r", "-z", "--name-only", "--full-tree", self._tree_of(commit)
        )
        if found is None:
            raise UnknownRevision(f"{self.root}: {commit[:12]} has no tree at {self.prefix or '.'}")
        return found

    def _ls_tree(self, commit: str, *options: str) -> bytes:
        done = self.git.run("ls-tree", "-r", "-z", *options, "--full-tree", self._tree_of(commit))
        if done is None or done.returncode != 0:
            raise UnknownRevision(f"{self.root}: {commit[:12]} has no tree at {self.prefix or '.'}")
        return done.stdout

    def changes(self, old: str, new: str) -> list[Change] | None:
        """The supported files changed from ``old`` to ``new`` (renames found), or None when git
        cannot compare them."""
        done = self.git.run(
            "diff-tree", "-r", "-z", "-M", "--raw", "--no-commit-id", self._tree_of(old), self._tree_of(new)
        )
        if done is None or done.returncode != 0:
            return None
        raw = list(_raw_changes(done.stdout))
        sizes = self.sizes(change.blob for change in raw if change.blob is not None)
        return [change.resolved(sizes) for change in raw if change.relevant]

    def sizes(self, blobs: Iterable[bytes]) -> dict[bytes, int]:
        """The size in bytes of each blob (``cat-file --batch-check``); missing ones are left out."""
        sizes: dict[bytes, int] = {}
        for header, _content in self._cat("--batch-check", blobs):
            sizes[header[0]] = header[1]
        return sizes

    def contents(self, blobs: Iterable[bytes]) -> dict[bytes, bytes]:
        """The content of each blob (``cat-file --batch``); missing ones are left out."""
        return {header[0]: content for header, content in self._cat("--batch", blobs)}

    def blobs(self, blobs: Iterable[bytes], max_bytes: int) -> dict[bytes, tuple[int, bytes | None]]:
        """The size in bytes and the content of each blob, from one ``cat-file --batch``: the content
        None when larger than ``max_bytes`` (read past, never held); missing ones are left out."""
        wanted = list(dict.fromkeys(blobs))
        if not wanted:
            return {}
        ids = b"".join(blob.hex().encode() + b"\n" for blob in wanted)
        found = self.git.read(
            partial(_batch_stream, count=len(wanted), max_bytes=max_bytes), "cat-file", "--batch", stdin=ids
        )
        return found or {}

    def _tree_of(self, commit: str) -> str:
        return f"{commit}:{self.prefix}" if self.prefix else f"{commit}^{{tree}}"

    def _cat(self, mode: str, blobs: Iterable[bytes]) -> Iterator[tuple[tuple[bytes, int], bytes]]:
        wanted = list(dict.fromkeys(blobs))
        for start in range(0, len(wanted), _BLOBS_PER_CALL):
            ids = b"".join(blob.hex().encode() + b"\n" for blob in wanted[start : start + _BLOBS_PER_CALL])
            done = self.git.run("cat-file", mode, stdin=ids)
            if done is not None and done.returncode == 0:
                yield from _batch_output(done.stdout, with_content=mode == "--batch")


def open_repository(root: Path) -> GitRepository | None:
    """The git repository ``root`` is (a bare repository) or lies in (a work tree), or None. Its
    objects must be its own: a work tree whose ``.git`` is a file (it names a git directory
    elsewhere: a linked work tree, a submodule, or a trap) or a repository borrowing objects from
    another (``objects/info/alternates``) is not read from git, since its blobs could come from
    outside the target."""
    real = root.resolve()
    if _is_bare(real):
        git = Git(real, None, real)
        return GitRepository(git, real, "") if not _borrows(real) and git.neutralise() else None
    top = find_work_tree(real)
    if top is None or not (top / ".git").is_dir() or (top / ".git").is_symlink() or _borrows(top / ".git"):
        return None
    work_git = Git.for_target(real)
    if work_git is None:
        return None
    prefix = real.relative_to(top).as_posix()
    return GitRepository(work_git, real, "" if prefix == "." else prefix)


def require_repository(root: Path) -> GitRepository:
    """``open_repository(root)``, or NotARepository."""
    repository = open_repository(root)
    if repository is None:
        raise NotARepository(f"{root}: not a git repository (--rev needs a work tree or a bare mirror)")
    return repository


def _borrows(git_dir: Path) -> bool:
    """Whether a git directory takes objects from elsewhere (alternates)."""
    alternates = git_dir / "objects" / "info" / "alternates"
    return alternates.exists() or alternates.is_symlink()


def _status(output: bytes) -> tuple[bool, str | None, bool]:
    """``git status --porcelain=v2 --branch -z`` output: whether it told HEAD's commit (the
    ``branch.oid`` header, well formed), that commit (None: no commit yet), and whether a supported
    file is listed (a record that cannot be read, such as a rename's, counts as one)."""
    told, head, dirty = False, None, False
    for entry in output.split(b"\0"):
        if entry.startswith(b"# branch.oid "):
            oid = entry.removeprefix(b"# branch.oid ")
            told, head = oid == b"(initial)" or bool(_OBJECT_ID.fullmatch(oid)), None
            if told and oid != b"(initial)":
                head = oid.decode()
        elif entry and not entry.startswith(b"# "):
            fields = _STATUS_FIELDS.get(entry[:2])
            path = None if fields is None else entry.split(b" ", fields)[fields:]
            dirty = dirty or not path or language_for(os.fsdecode(path[0])) is not None
    return told, head, dirty


def _unborn(git_dir: Path) -> bool:
    """Whether the ref files say that HEAD names a branch without a commit: ``HEAD`` a file naming
    ``refs/heads/<name>``, that loose ref absent, and no other store that could hold it. The files
    are read, never the configuration; False whenever they cannot tell (git is asked then)."""
    head = git_dir / "HEAD"
    try:
        text = None if head.is_symlink() else head.read_bytes()
    except OSError:
        return False
    named = None if text is None else _SYMBOLIC_HEAD.fullmatch(text)
    if named is None or b"//" in named[1] or named[1].endswith(b"/"):
        return False
    stores = (os.fsdecode(named[1]), *_OTHER_REF_STORES)
    return not any(os.path.lexists(git_dir / store) for store in stores)


def _is_bare(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _path_bytes(entry: TreeEntry) -> bytes:
    return os.fsencode(entry.path)


def _entries(output: bytes) -> Iterator[TreeEntry]:
    """``ls-tree -r -z`` records: ``<mode> SP <type> SP <id> TAB <path>``."""
    for record in output.split(b"\0"):
        meta, tab, name = record.partition(b"\t")
        if not tab or not name.endswith(_SUPPORTED_SUFFIXES):
            continue
        mode, kind, blob = meta.split(b" ", 2)
        path = os.fsdecode(name)
        if kind == b"blob" and language_for(path) is not None:
            yield TreeEntry(path, mode.decode(), bytes.fromhex(blob.decode()))


@dataclass(frozen=True, slots=True)
class _RawChange:
    kind: str
    path: str
    old_path: str | None
    mode: str
    blob: bytes | None

    @property
    def relevant(self) -> bool:
        supported = language_for(self.path) is not None
        was_supported = self.old_path is not None and language_for(self.old_path) is not None
        return supported or was_supported

    def resolved(self, sizes: dict[bytes, int]) -> Change:
        """As a Change: a rename from or to an unsupported name is a deletion or an addition."""
        new_supported = language_for(self.path) is not None
        if self.kind == "D" or not new_supported:
            gone = self.old_path if self.old_path is not None else self.path
            return Change("D", gone, None, None)
        assert self.blob is not None
        entry = TreeEntry(self.path, self.mode, self.blob, sizes.get(self.blob, 0))
        if self.kind == "R" and (self.old_path is None or language_for(self.old_path) is None):
            return Change("A", self.path, None, entry)
        return Change(self.kind, self.path, self.old_path, entry)


def _raw_changes(output: bytes) -> Iterator[_RawChange]:
    """``diff-tree -r -z --raw`` records: ``:<old mode> <new mode> <old id> <new id> <status>\\0<path>\\0``
    and, for a rename or copy, ``<new path>\\0`` after the old one."""
    fields = output.split(b"\0")
    index = 0
    while index < len(fields) and fields[index].startswith(b":"):
        _old_mode, new_mode, _old_id, new_id, status = fields[index][1:].split(b" ")
        kind = status[:1].decode()
        if kind in ("R", "C"):
            old, new = os.fsdecode(fields[index + 1]), os.fsdecode(fields[index + 2])
            index += 3
        else:
            old, new = None, os.fsdecode(fields[index + 1])
            index += 2
        yield _change(kind, new, old, new_mode.decode(), new_id)


def _change(kind: str, path: str, old_path: str | None, mode: str, new_id: bytes) -> _RawChange:
    if kind == "C":  # a copy leaves its source in place: the new path is an addition
        kind, old_path = "A", None
    if kind == "T":  # a type change (file to symlink): the path's content changed
        kind = "M"
    if mode == _GITLINK_MODE:
        kind = "D"  # a submodule is no file of ours
    blob = None if kind == "D" else bytes.fromhex(new_id.decode())
    return _RawChange(kind, path, old_path, mode, blob)


def _head_bytes(output: IO[bytes]) -> bytes:
    """The first ``_SMALL_TREE_BYTES`` of ``output``, and one more when it is longer."""
    return output.read(_SMALL_TREE_BYTES + 1)


def _batch_stream(output: IO[bytes], *, count: int, max_bytes: int) -> dict[bytes, tuple[int, bytes | None]]:
    """``count`` records of ``cat-file --batch`` as they come (``_batch_output``), each blob's content
    kept when it holds no more than ``max_bytes``."""
    found: dict[bytes, tuple[int, bytes | None]] = {}
    for _record in range(count):
        header = output.readline().split(b" ")
        if len(header) != 3:
            continue  # missing or ambiguous (or the output ended: git failed)
        size = int(header[2])
        content = output.read(size) if size <= max_bytes else None
        if content is None:
            _skip(output, size)
        output.read(1)  # the LF after each content
        if header[1] == b"blob" and (content is None or len(content) == size):
            found[bytes.fromhex(header[0].decode())] = size, content
    return found


def _skip(output: IO[bytes], size: int) -> None:
    """Read past ``size`` bytes of ``output`` a chunk at a time."""
    while size > 0:
        chunk = output.read(min(size, _SKIP_CHUNK_BYTES))
        if not chunk:
            return
        size -= len(chunk)


def _batch_output(output: bytes, *, with_content: bool) -> Iterator[tuple[tuple[bytes, int], bytes]]:
    """``cat-file --batch(-check)`` output: ``<id> SP <type> SP <size> LF`` (then the content and LF);
    ``<id> SP missing LF`` for an object the repository lacks."""
    position = 0
    while position < len(output):
        end = output.index(b"\n", position)
        header = output[position:end].split(b" ")
        position = end + 1
        if len(header) != 3:
            continue  # missing or ambiguous
        size = int(header[2])
        content = b""
        if with_content:
            content = output[position : position + size]
            position += size + 1
        if header[1] == b"blob":
            yield (bytes.fromhex(header[0].decode()), size), content
