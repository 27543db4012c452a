"""The fork gate: a child forked while another thread is busy never inherits that thread's locks."""

from __future__ import annotations

import os
import select
import threading
from typing import BinaryIO

from parsefleet.workers.fork_gate import ForkGate, gate

_FORKS = 60
_CHILD_DEADLINE_S = 20.0


def _busy_writer(stream: BinaryIO, stop: threading.Event, started: threading.Event) -> None:
    """What a heartbeat turn stands for: a thread writing a buffered stream (a log line), turn after turn."""
    while not stop.is_set():
        with gate.turn():
            for _ in range(50):
                stream.write(b"thread line\n")
            stream.flush()
        started.set()


def _child_exit_code(pid: int) -> int | None:
    """The child's exit code, or None when it is still running after the deadline (then killed)."""
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], _CHILD_DEADLINE_S)
        if not ready:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return None
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    finally:
        os.close(pidfd)


def test_children_forked_while_a_thread_takes_turns_never_hang_on_its_locks() -> None:
    """Without the gate a fork lands inside the thread's write about one time in ten, and the child's
    own write then waits forever on the stream's lock, which the thread held at the fork. (The
    stream is /dev/null: the thread writes as fast as it can for as long as a child hangs.)"""
    stop, started = threading.Event(), threading.Event()
    with open(os.devnull, "ab") as stream:
        thread = threading.Thread(target=_busy_writer, args=(stream, stop, started), daemon=True)
        thread.start()
        started.wait()
        codes = []
        try:
            for _ in range(_FORKS):
                pid = os.fork()
                if pid == 0:  # the child: write through the same stream, as a pool child logs
                    stream.write(b"child line\n")
                    stream.flush()
                    os._exit(0)
                codes.append(_child_exit_code(pid))
        finally:
            stop.set()
            thread.join()
    assert codes == [0] * _FORKS


def test_a_fork_waits_for_the_turn_in_progress_at_most_its_wait() -> None:
    private = ForkGate(wait_s=0.05)
    inside, leave = threading.Event(), threading.Event()

    def long_turn() -> None:
        with private.turn():
            inside.set()
            leave.wait()

    thread = threading.Thread(target=long_turn, daemon=True)
    thread.start()
    inside.wait()
    private.before_fork()  # the turn does not end: the fork goes ahead without the gate
    private.after_fork_in_parent()
    assert private.late_forks == 1
    leave.set()
    thread.join()
    private.before_fork()  # no turn in progress: the gate is taken at once and given back after
    private.after_fork_in_parent()
    assert private.late_forks == 1
    with private.turn():  # open again
        pass


def test_a_child_starts_with_an_open_gate() -> None:
    private = ForkGate(wait_s=0.05)
    private.before_fork()
    private.after_fork_in_child()  # what a child's copy of the process runs: its lock is held, by the fork
    with private.turn():
        assert private.late_forks == 0
