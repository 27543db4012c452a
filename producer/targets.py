"""The targets of a run: given as arguments and ``--from`` lists, listed lazily a few ahead.

A run's targets are read once, up front, into small records (``Target``: a path and where it was
given); nothing is listed then. A target given as an argument that does not exist, or is no
directory, is an error of the whole command (exit 2), as it always was. A ``--from`` line that
cannot be a target (missing path, not a directory, a NUL byte, the same repository as an earlier
line) is a *bad line*: reported with its line number and kept in the run as a failed target, or,
under ``--strict``, the whole submission fails before anything starts. Blank lines and lines
starting with ``#`` are ignored; a relative path is taken from the current directory, like an
argument.

``TargetStream`` then lists the targets in order on ``list_threads`` threads (each listing is a
few git processes), never more than ``list_ahead_targets`` ahead of the producer, so discovery
overlaps reading and sending and memory does not grow with the number of targets. A target whose
listing fails (unreadable, vanished) comes out as a ``Listing`` with an ``error``: a failed target
of the run, not the end of the others. Targets put ``last`` (those that failed repeatedly in earlier
runs) come out after all the others, in their order.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from parsefleet.contract.errors import InputError, NoSupportedFiles, TargetNotFound, TargetUnreadable
from parsefleet.contract.paths import printable
from parsefleet.contract.settings import Settings
from parsefleet.producer.snapshot import Plan, Snapshot, snapshot_of

__all__ = ["Listing", "Target", "TargetStream", "list_target", "planned", "read_targets", "resumed"]

STDIN = "-"
_SHOWN_BAD_LINES = 3  # in the one-line error of --strict


@dataclass(frozen=True, slots=True)
class Target:
    """One target of a run: ``ordinal`` counts from 1 in the order given; ``bad`` says why a
    ``--from`` line is not submitted."""

    ordinal: int
    path: Path
    origin: str  # "argument 2", "repos.txt:14", "stdin:3"
    bad: str | None = None

    @property
    def shown(self) -> str:
        """The target as a person reads it (control characters escaped)."""
        return printable(os.fsencode(self.path))


@dataclass(frozen=True, slots=True)
class Listing:
    """A target looked at: its snapshot (a commit's tree, or its files as they are), or the ``error``
    that kept it out of the run."""

    target: Target
    snapshot: Snapshot | None = None
    error: str | None = None

    @property
    def has_files(self) -> bool:
        """Whether the target holds a file to parse."""
        return self.snapshot is not None and bool(self.snapshot.files or self.snapshot.nonempty)


def read_targets(
    arguments: Sequence[Path], sources: Sequence[str] = (), *, stdin: BinaryIO | None = None, strict: bool = False
) -> list[Target]:
    """The targets of ``arguments`` then of each ``--from`` source (``-``: ``stdin``), in order.

    Raises TargetNotFound or TargetUnreadable for a bad argument, InputError for a source that cannot
    be read or, under ``strict``, for bad lines.
    """
    targets: list[Target] = []
    roots: dict[Path, str] = {}
    for number, path in enumerate(arguments, 1):
        _check_argument(path)
        roots.setdefault(path.resolve(), f"argument {number}")
        targets.append(Target(len(targets) + 1, path, f"argument {number}"))
    for source in sources:
        name = "stdin" if source == STDIN else source
        for number, raw in enumerate(_lines(source, stdin), 1):
            target = _from_line(raw, f"{name}:{number}", len(targets) + 1, roots)
            if target is not None:
                targets.append(target)
    bad = [target for target in targets if target.bad is not None]
    if strict and bad:
        shown = "; ".join(f"{target.origin}: {target.bad}" for target in bad[:_SHOWN_BAD_LINES])
        more = f" (and {len(bad) - _SHOWN_BAD_LINES} more)" if len(bad) > _SHOWN_BAD_LINES else ""
        raise InputError(f"{len(bad)} bad target line{'s' if len(bad) > 1 else ''} under --strict: {shown}{more}")
    return targets


def _check_argument(path: Path) -> None:
    if not path.exists():
        raise TargetNotFound(f"{path}: no such file or directory")
    if not path.is_dir():
        raise TargetUnreadable(f"{path}: not a directory")


def _lines(source: str, stdin: BinaryIO | None) -> list[bytes]:
    if source == STDIN:
        if stdin is None:
            raise InputError("--from -: no standard input to read")
        return _split(stdin.read())
    try:
        return _split(Path(source).read_bytes())
    except OSError as exc:
        raise InputError(f"--from {source}: {exc.strerror or exc}") from None


def _split(data: bytes) -> list[bytes]:
    """Lines end at LF alone (a CR at the end of one is stripped with the spaces): a CR inside a
    name is part of the name, never a line of its own that would shift the line numbers."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


def _from_line(raw: bytes, origin: str, ordinal: int, roots: dict[Path, str]) -> Target | None:
    """The target of one ``--from`` line (None for a blank line or a comment)."""
    text = raw.strip()
    if not text or text.startswith(b"#"):
        return None
    if b"\0" in text:
        return Target(ordinal, Path(os.fsdecode(text.replace(b"\0", b"?"))), origin, "contains a NUL byte")
    path = Path(os.fsdecode(text))
    bad = _line_problem(path, roots, origin)
    return Target(ordinal, path, origin, bad)


def _line_problem(path: Path, roots: dict[Path, str], origin: str) -> str | None:
    shown = printable(os.fsencode(path))
    try:
        if not path.exists():
            return f"{shown}: no such file or directory"
        if not path.is_dir():
            return f"{shown}: not a directory"
        root = path.resolve()
    except OSError as exc:
        return f"{shown}: {exc.strerror or exc}"
    first = roots.setdefault(root, origin)
    return None if first == origin else f"{shown}: the same repository as {first}"


def list_target(target: Target, settings: Settings) -> Listing:
    """Look at one target (in a listing thread); a failure is the listing's ``error``."""
    if target.bad is not None:
        return Listing(target, error=target.bad)
    return _looked_at(target, partial(snapshot_of, target.path, settings))


def _looked_at(target: Target, look: Callable[[], Snapshot]) -> Listing:
    """``target``'s listing by ``look``; a failure is its ``error``."""
    try:
        return Listing(target, look())
    except InputError as exc:
        return Listing(target, error=str(exc))
    except OSError as exc:
        return Listing(target, error=f"{target.shown}: {exc.strerror or exc}")


def planned(snapshots: Sequence[Snapshot], settings: Settings) -> TargetStream:
    """A stream of snapshots looked at up front (``snapshot.plan_targets``: --rev, --name, --history,
    reindex), each its own target."""
    targets = [Target(number, snapshot.root, f"argument {number}") for number, snapshot in enumerate(snapshots, 1)]
    plans = [Plan.of(snapshot) for snapshot in snapshots]
    lister = partial(_listed_as_planned, snapshots)
    return TargetStream(targets, settings, lister=lister, plans=plans)


def resumed(targets: Sequence[Target], plans: Mapping[int, Plan], settings: Settings) -> TargetStream:
    """The stream of a resumed run's targets left to do: those with a plan (by ordinal) looked at
    again by it, the others as a streamed run lists them."""
    return TargetStream(targets, settings, lister=partial(_listed_again, plans, settings))


def _listed_as_planned(snapshots: Sequence[Snapshot], target: Target) -> Listing:
    return Listing(target, snapshots[target.ordinal - 1])


def _listed_again(plans: Mapping[int, Plan], settings: Settings, target: Target) -> Listing:
    plan = plans.get(target.ordinal)
    if plan is None:
        return list_target(target, settings)
    return _looked_at(target, partial(plan.snapshot, target.path, settings))


class TargetStream:
    """The listings of ``targets`` in order, at most ``list_ahead_targets`` listed ahead of the reader.

    ``listed`` is called (on a listing thread) with each listing as it is made. Close it (or use it
    as a context manager) to stop the listing threads.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        settings: Settings,
        *,
        listed: Callable[[Listing], None] | None = None,
        lister: Callable[[Target], Listing] | None = None,
        plans: Sequence[Plan] = (),
    ) -> None:
        self.targets = targets
        self.plans = plans  # of targets looked at up front (``planned``), kept with the run
        self.settings = settings
        self._listed = listed or (lambda _listing: None)
        self._lister = lister or (lambda target: list_target(target, settings))
        self._next: Iterator[Target] = (target for target in targets if target.bad is None)  # bad: failed at start
        self._ahead: deque[Future[Listing]] = deque()
        self._peeked: deque[Listing] = deque()
        self._last: frozenset[int] = frozenset()  # ordinals of the targets put last
        self._held: deque[Listing] = deque()  # their listings made early, held until the others are out
        self._pool = ThreadPoolExecutor(settings.list_threads, thread_name_prefix="parsefleet-list")

    def __iter__(self) -> Iterator[Listing]:
        while True:
            listing = self.next_listing()
            if listing is None:
                return
            yield listing

    def next_listing(self) -> Listing | None:
        """The next listing (waiting for it), or None after the last."""
        while True:
            listing = self._peeked.popleft() if self._peeked else self._take()
            if listing is None:
                return self._held.popleft() if self._held else None
            if listing.target.ordinal not in self._last:
                return listing
            self._held.append(listing)

    def put_last(self, ordinals: set[int]) -> None:
        """List the targets of ``ordinals`` after all the others (those not listed yet are listed
        last; those listed already are held back)."""
        self._last = frozenset(ordinals)
        rest = list(self._next)
        self._next = iter([t for t in rest if t.ordinal not in ordinals] + [t for t in rest if t.ordinal in ordinals])

    def ready(self, timeout_s: float = 0.0) -> bool:
        """Whether the next listing can be had without waiting (or there is none), once it is made
        if that takes no more than ``timeout_s``."""
        self._fill()
        if self._peeked or not self._ahead or self._ahead[0].done():
            return True
        return timeout_s > 0 and bool(wait([self._ahead[0]], timeout_s).done)

    def check_some_files(self) -> None:
        """List targets until one has a file to parse; raise InputError when none has. Every
        listing taken stays to be read."""
        failed: list[Listing] = []
        while True:
            listing = self._take()
            if listing is None:
                break
            self._peeked.append(listing)
            if listing.has_files:
                return
            if listing.error is not None:
                failed.append(listing)
        if failed:
            others = f" (and {len(failed) - 1} more targets failed)" if len(failed) > 1 else ""
            raise InputError(f"{failed[0].error}{others}")
        names = ", ".join(target.shown for target in self.targets[:_SHOWN_BAD_LINES])
        more = ", ..." if len(self.targets) > _SHOWN_BAD_LINES else ""
        raise NoSupportedFiles(f"{names}{more}: no .py, .go or .rs file to parse")

    def close(self) -> None:
        """Stop listing: the listings not started are dropped."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> TargetStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _take(self) -> Listing | None:
        self._fill()
        if not self._ahead:
            return None
        listing = self._ahead.popleft().result()
        self._fill()
        return listing

    def _fill(self) -> None:
        while len(self._ahead) < self.settings.list_ahead_targets:
            target = next(self._next, None)
            if target is None:
                return
            self._ahead.append(self._pool.submit(self._list, target))

    def _list(self, target: Target) -> Listing:
        listing = self._lister(target)
        self._listed(listing)
        return listing
