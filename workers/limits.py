"""Caps that act while a file is parsing: a per-file deadline, a resident-memory budget, and a cap
on the symbols of one file.

tree-sitter calls a progress callback while it parses (only when the source comes through a read
callback); returning True cancels the parse. ``ParseBudget`` is that callback.

Sources up to ``UNWATCHED_PARSE_MAX_BYTES`` are parsed from bytes, without the callbacks: the
read-callback path of the binding (py-tree-sitter 0.26.1) keeps a reference to every chunk it is
given, so each watched parse leaks about its source's size, and the callbacks cost time. A source
that small cannot run away: the worst inputs measured (a Go file of ``def f(`` lines, open
brackets, unterminated strings, random bytes, in each grammar) took at most 0.24 s and 28 MB at
64 KiB (docs/reliability.md), far inside the default 10 s and the child's memory headroom.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from parsefleet.contract.errors import ParseCancelled, ParseFailure, ParseTimeout, TooManySymbols

__all__ = [
    "GOVERNOR_CREDIT_S",
    "STUCK_SHARE",
    "UNWATCHED_PARSE_MAX_BYTES",
    "CpuGovernor",
    "ParseBudget",
    "cgroup_cpu_limit",
    "child_cpu_share",
    "process_cpu_s",
    "rss_mb",
    "stacks_if_stuck",
]

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_RSS_CHECK_EVERY = 32  # progress callbacks between two reads of /proc/self/statm
UNWATCHED_PARSE_MAX_BYTES = 64 * 1024
STUCK_SHARE = 0.75  # of the batch's hard time limit: a delivery still running then dumps its stacks
GOVERNOR_CREDIT_S = 0.05  # seconds of unused CPU share a pool child may carry to its next batches


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux ``/proc/self/statm``).

    The file stays open, one descriptor per process (a forked child opens its own: an inherited
    one would name its parent), and is read again from offset 0: about 1 µs a reading against 5 µs
    for opening it each time, which the checks between a file's steps and during a watched parse
    pay several times a file.
    """
    resident_pages = int(os.pread(_statm(), 64, 0).split()[1])
    return resident_pages * _PAGE_BYTES / 1_048_576


_STATM: dict[str, int] = {}  # "pid" and "fd": this process's open /proc/self/statm


def _statm() -> int:
    pid = os.getpid()
    if _STATM.get("pid") != pid:
        inherited = _STATM.get("fd")
        if inherited is not None:
            os.close(inherited)  # the parent's, copied by the fork: this process's copy only
        _STATM["fd"] = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        _STATM["pid"] = pid
    return _STATM["fd"]


class ParseBudget:
    """Time, memory and symbols allowed to one file; pass ``budget.progress`` as tree-sitter's callback.

    The memory budget is the pool child's resident size, so it covers whatever the batch holds
    already (its payload, the outlines of the files before this one) as well as this file's parse:
    the parse is watched while it runs, and ``check_rss`` is called between the steps of a file
    (after the parse, after the outline) and of its batch (before the commit).
    """

    def __init__(self, timeout_s: float, rss_limit_mb: float | None = None, symbols_max: int | None = None) -> None:
        self.timeout_s = timeout_s
        self.rss_limit_mb = rss_limit_mb
        self.symbols_max = symbols_max
        self._deadline = time.monotonic() + timeout_s
        self._calls = 0
        self.breach: ParseFailure | None = None

    def progress(self, _byte_offset: int, _has_error: bool) -> bool:
        """Return True (cancel) once the deadline has passed or RSS is over budget."""
        if time.monotonic() > self._deadline:
            self.breach = ParseTimeout(f"parse ran past {self.timeout_s:g} s")
            return True
        self._calls += 1
        if self.rss_limit_mb is not None and self._calls % _RSS_CHECK_EVERY == 0:
            current_mb = rss_mb()
            if current_mb > self.rss_limit_mb:
                self.breach = ParseCancelled(
                    f"parse cancelled at {current_mb:.0f} MB RSS (budget {self.rss_limit_mb:.0f} MB)"
                )
                return True
        return False

    def check_rss(self, stage: str) -> None:
        """Raise ParseCancelled when the process is over its memory budget at ``stage``."""
        if self.rss_limit_mb is None:
            return
        current_mb = rss_mb()
        if current_mb > self.rss_limit_mb:
            raise ParseCancelled(f"{stage} at {current_mb:.0f} MB RSS (budget {self.rss_limit_mb:.0f} MB)")

    def check_symbols(self, count: int) -> None:
        """Raise TooManySymbols when one file has more than ``symbols_max`` definitions."""
        if self.symbols_max is not None and count > self.symbols_max:
            raise TooManySymbols(f"{count} definitions, more than {self.symbols_max} (PARSEFLEET_MAX_FILE_SYMBOLS)")


def cgroup_cpu_limit() -> float | None:
    """CPUs this process's cgroup (v2) allows, or None when no quota is set."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


class CpuGovernor:
    """Holds one pool child to ``share`` of a CPU on average, without a cgroup.

    A token bucket of CPU time: the child earns ``share`` CPU-seconds per second of wall time and
    spends the CPU it uses, plus its part of its parent's (Celery's main process, charged to its
    ``siblings`` children in equal parts, so that main process and children together hold the
    worker's cap). After each batch a child in debt sleeps until it is even. Time spent waiting
    (for the next batch, for PostgreSQL's commit) earns like any other, and what a batch leaves
    unspent is kept for the next ones up to ``credit_s`` (cgroup v2 calls the same thing
    ``cpu.max.burst``): between any two batch ends the child uses at most ``share`` of the time
    between them plus ``credit_s``. Without the credit, a batch that waited longer than its share
    allows lost the rest, and the next batch paused anyway. Under systemd or Kubernetes the cgroup
    quota does this job in the kernel, and the governor stays off.
    """

    def __init__(
        self, share: float, credit_s: float = GOVERNOR_CREDIT_S, *, parent_pid: int | None = None, siblings: int = 1
    ) -> None:
        self.share = share
        self.credit_s = credit_s
        self.paused_s = 0.0
        self._parent_stat = Path(f"/proc/{parent_pid}/stat") if parent_pid is not None else None
        self._siblings = siblings
        self._balance_s = 0.0
        self._cpu_mark_s = self._cpu_s()
        self._wall_mark_s = time.monotonic()

    def balance_s(self) -> float:
        """CPU-seconds the child may still use now (negative: its debt), at most ``credit_s``."""
        return self._balance_at(self._cpu_s(), time.monotonic())

    def pause_s(self) -> float:
        """Seconds to sleep now to pay off the debt."""
        return max(0.0, -self.balance_s() / self.share)

    def settle(self) -> None:
        """Sleep off any debt, then carry the balance into a new accounting window."""
        pause = self.pause_s()
        if pause > 0:
            time.sleep(pause)
            self.paused_s += pause
        cpu_s, wall_s = self._cpu_s(), time.monotonic()  # one reading closes this window and opens the next
        self._balance_s = self._balance_at(cpu_s, wall_s)
        self._cpu_mark_s, self._wall_mark_s = cpu_s, wall_s

    def _balance_at(self, cpu_s: float, wall_s: float) -> float:
        earned_s = (wall_s - self._wall_mark_s) * self.share
        return min(self.credit_s, self._balance_s + earned_s - (cpu_s - self._cpu_mark_s))

    def _cpu_s(self) -> float:
        """This child's CPU time plus its part of the parent's (the parent's over ``siblings``)."""
        return time.process_time() + process_cpu_s(self._parent_stat) / self._siblings


def process_cpu_s(stat: Path | None) -> float:
    """User plus system CPU seconds of the process whose ``/proc/<pid>/stat`` is ``stat`` (0 when
    None or gone)."""
    if stat is None:
        return 0.0
    try:
        fields = stat.read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS_PER_S


def child_cpu_share(cpu_limit_pct: int, cpus_given: int, concurrency: int) -> float | None:
    """Share of a CPU each pool child may use so the worker stays under ``cpu_limit_pct`` of its
    CPUs; None when no governor is needed (a cgroup quota is set, or the children cannot exceed it).
    """
    if cgroup_cpu_limit() is not None:
        return None
    share = cpu_limit_pct / 100 * cpus_given / concurrency
    return share if share < 1.0 else None


@contextmanager
def stacks_if_stuck(after_s: float, file: IO[str] | None = None) -> Iterator[None]:
    """Dump every thread's stack to ``file`` (default: the process's own stderr, not Celery's
    logging proxy) if the block still runs after ``after_s``, once: where a delivery was stuck
    before its hard time limit killed it. ``faulthandler`` writes from a thread of its own, in C,
    so a process stuck anywhere (holding the GIL included) still tells."""
    out = sys.__stderr__ if file is None else file
    if out is None or after_s <= 0:
        yield
        return
    faulthandler.dump_traceback_later(after_s, exit=False, file=out)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
