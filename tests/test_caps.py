"""Caps that hold: the worker's CPU governor, measured on a real worker under CPU-bound load."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from common.settings import Settings
from parsefleet import commands
from parsefleet.bench.probe import TreeProbe
from parsefleet.fleet import LocalWorkers
from workers.limits import CpuGovernor, cgroup_cpu_limit, child_cpu_share

_SOURCE = "".join(
    f"class C{i}:\n    def m{i}(self, x):\n        return [x * {i} for _ in range(3) if x]\n\n" for i in range(400)
)


def test_governor_pauses_in_proportion_to_cpu_used() -> None:
    governor = CpuGovernor(0.5)
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    pause = governor.pause_s()
    assert 0.1 < pause < 0.35  # 0.2 s of CPU at half a CPU needs 0.4 s of wall time, 0.2 s already spent
    governor.settle()
    assert governor.pause_s() < 0.05


@pytest.mark.skipif(cgroup_cpu_limit() is not None, reason="a cgroup quota replaces the governor")
def test_child_share_splits_the_worker_cap_across_children() -> None:
    assert child_cpu_share(70, 2, 2) == pytest.approx(0.7)
    assert child_cpu_share(70, 4, 2) is None  # two children cannot use more than 70% of four CPUs
    assert child_cpu_share(50, 2, 4) == pytest.approx(0.25)


@pytest.mark.service
@pytest.mark.slow
def test_a_loaded_worker_stays_under_its_cpu_cap(settings: Settings, tmp_path: Path) -> None:
    repo = tmp_path / "load"
    repo.mkdir()
    for index in range(160):
        (repo / f"m{index}.py").write_text(f"# {index}\n" + _SOURCE)
    assert settings.redis_url and settings.database_url
    fleet = LocalWorkers(settings.redis_url, settings.database_url, tmp_path / "logs", count=1)
    fleet.start()
    try:
        probe = TreeProbe([process.pid for process in fleet.processes])
        probe.start()
        started = time.monotonic()
        report = commands.submit(settings, [repo], wait=True, progress=False, ci=False)
        elapsed_s = time.monotonic() - started
        probe.stop()
    finally:
        fleet.stop()
    assert report.state.finished and report.parsed == 160
    share = probe.cpu_used_s / elapsed_s / settings.concurrency
    assert share <= settings.cpu_limit_pct / 100 + 0.07, f"worker used {share:.0%} of its CPUs"
