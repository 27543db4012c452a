"""A delivery still running at its share of the hard time limit leaves every thread's stack in the
worker's stderr (workers.limits.stacks_if_stuck), once; one that ends in time leaves nothing."""

from __future__ import annotations

import threading
from pathlib import Path

from parsefleet.workers.limits import stacks_if_stuck


def _held_until(release: threading.Event, seen: Path) -> None:
    """Stand in for a stuck delivery: blocks until the dump has been written (or 10 s)."""
    for _ in range(200):
        if seen.stat().st_size:
            break
        release.wait(0.05)


def test_a_block_still_running_after_its_time_dumps_every_stack_once(tmp_path: Path) -> None:
    dump = tmp_path / "stderr"
    with dump.open("w") as out:
        with stacks_if_stuck(0.2, out):
            _held_until(threading.Event(), dump)
        with stacks_if_stuck(5.0, out):  # ends in time: disarmed on the way out
            pass
    text = dump.read_text()
    assert text.startswith("Timeout (0:00:00.200000)!")
    assert "_held_until" in text and "test_a_block_still_running_after_its_time" in text  # where it was
    assert text.count("Timeout (") == 1


def test_a_block_that_ends_in_time_leaves_nothing(tmp_path: Path) -> None:
    dump = tmp_path / "stderr"
    with dump.open("w") as out:
        with stacks_if_stuck(0.5, out):
            pass
        done = threading.Event()
        done.wait(0.8)  # past the disarmed deadline: a dump would have come by now
    assert dump.read_text() == ""
