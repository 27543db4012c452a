"""Sample a process tree's resident memory and CPU time from /proc while a benchmark runs."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TreeProbe", "TreeSample", "pin_tree", "tree_sample"]

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class TreeSample:
    """RSS (MB) and CPU seconds of a process and its living descendants at one moment."""

    rss_mb: float
    cpu_s: float


def _children(pid: int) -> list[int]:
    """The children of ``pid``; none once it has exited (a PostgreSQL backend may, at any moment)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(child) for child in task.read_text().split())
        except OSError:
            continue
    return found


def _one(pid: int) -> TreeSample:
    try:
        rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, ValueError):
        return TreeSample(0.0, 0.0)
    # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the comm field
    cpu_ticks = sum(int(value) for value in fields[11:15])
    return TreeSample(rss_pages * _PAGE_BYTES / 1_048_576, cpu_ticks / _TICKS_PER_S)


def tree_sample(pid: int) -> TreeSample:
    """The sum over ``pid`` and its descendants (exited children count through cutime/cstime)."""
    pending, rss_mb, cpu_s = [pid], 0.0, 0.0
    while pending:
        current = pending.pop()
        sample = _one(current)
        rss_mb += sample.rss_mb
        cpu_s += sample.cpu_s
        pending.extend(_children(current))
    return TreeSample(rss_mb, cpu_s)


def pin_tree(pid: int, cpus: set[int]) -> None:
    """Let ``pid`` and its living descendants run only on ``cpus`` (children forked later inherit it)."""
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            os.sched_setaffinity(current, cpus)
        except OSError:
            continue
        pending.extend(_children(current))


@dataclass
class TreeProbe:
    """Samples the trees of ``pids`` every ``interval_s`` in a thread; keeps peaks and CPU time."""

    pids: list[int]
    interval_s: float = 0.05
    peak_rss_mb: dict[int, float] = field(default_factory=dict)
    cpu_start_s: float = 0.0
    cpu_end_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin sampling."""
        self.cpu_start_s = self._cpu_s()
        self._thread = threading.Thread(target=self._loop, name="tree-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End sampling and read the final CPU time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.cpu_end_s = self._cpu_s()

    @property
    def cpu_used_s(self) -> float:
        """CPU seconds the trees used while sampled."""
        return self.cpu_end_s - self.cpu_start_s

    def _cpu_s(self) -> float:
        return sum(tree_sample(pid).cpu_s for pid in self.pids)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            for pid in self.pids:
                rss_mb = tree_sample(pid).rss_mb
                self.peak_rss_mb[pid] = max(self.peak_rss_mb.get(pid, 0.0), rss_mb)
