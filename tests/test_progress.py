"""The progress line: files per minute over the last readings, the ETA once everything is sent, the
targets read."""

from __future__ import annotations

import io

from parsefleet.cli.progress import Progress, ProgressBar


class _Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_the_line_gives_the_rate_now_and_once_all_is_sent_the_eta() -> None:
    clock = _Clock()
    bar = ProgressBar(io.StringIO(), started_s=clock.now_s, clock=clock)
    clock.now_s += 10
    sending = bar.line(Progress(3000, 2000, 600, "sending", targets_read=400, targets=1000))
    assert "3,600 files/min now" in sending  # 600 files in the 10 s since the start
    assert "targets 400/1,000" in sending and "ETA" not in sending  # more is still to be sent
    clock.now_s += 20
    waiting = bar.line(Progress(3000, 3000, 1600, "waiting", targets_read=1000, targets=1000))
    assert "3,000 files/min now" in waiting  # 1,000 more in the last 20 s
    assert "ETA 28 s" in waiting  # 1,400 files left at 50 a second
    clock.now_s += 60
    later = bar.line(Progress(3000, 3000, 1900, "waiting"))
    assert "300 files/min now" in later  # the readings older than the window are forgotten
    assert "targets" not in later
