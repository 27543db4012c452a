"""The fork gate: the worker main process's own threads and its pool's forks take turns.

Celery's prefork pool forks its children from the worker's main process: at start, and whenever
it replaces one (past its memory share, killed at its time limit, ``--max-tasks-per-child``). That
process also runs two threads of parsefleet's own, the heartbeat (``workers.heartbeat``) and the
outbox sweep (``workers.sweeper``). A fork copies only the thread that calls it, and every lock as
it is at that instant: a lock one of those threads held (a module's import lock while it imports,
a buffered stream's while it writes a log line, a client's pool lock, a C library's mutex) stays
held in the child with nobody left to release it, and the child's first use of it hangs until the
batch's hard time limit kills the child.

So each of those threads does each turn of its work (one heartbeat, one sweep) holding the gate,
and every fork of the process first takes the gate (``os.register_at_fork``): no fork falls in the
middle of a turn. A turn waits on Redis and PostgreSQL only within their client timeouts; a fork
that has waited ``FORK_WAIT_S`` goes ahead without the gate (``ForkGate.late_forks`` counts them)
rather than hold the pool's event loop longer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["FORK_WAIT_S", "ForkGate", "gate"]

FORK_WAIT_S = 5.0


class ForkGate:
    """One process's gate between its threads' turns and its forks."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self.late_forks = 0  # forks that went ahead while a turn still held the gate
        self._lock = threading.Lock()
        self._held_for_fork = False

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the gate for the block: no fork of this process happens until it ends."""
        with self._lock:
            yield

    def before_fork(self) -> None:
        """Wait for the turn in progress to end (at most ``wait_s``), and keep the gate over the fork."""
        self._held_for_fork = self._lock.acquire(timeout=self.wait_s)
        if not self._held_for_fork:
            self.late_forks += 1

    def after_fork_in_parent(self) -> None:
        """Let the threads take turns again."""
        if self._held_for_fork:
            self._held_for_fork = False
            self._lock.release()

    def after_fork_in_child(self) -> None:
        """The child starts with an open gate of its own (its copy of the lock is held, by the fork)."""
        self._lock = threading.Lock()
        self._held_for_fork = False


gate = ForkGate(FORK_WAIT_S)
os.register_at_fork(
    before=gate.before_fork, after_in_parent=gate.after_fork_in_parent, after_in_child=gate.after_fork_in_child
)
