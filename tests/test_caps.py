"""Caps that hold: the worker's CPU governor, measured on a real worker under CPU-bound load."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parsefleet.bench.probe import TreeProbe
from parsefleet.cli import commands
from parsefleet.contract.settings import Settings
from parsefleet.services.local_workers import LocalWorkers
from parsefleet.workers.limits import CpuGovernor, cgroup_cpu_limit, child_cpu_share, process_cpu_s, rss_mb

_SOURCE = "".join(
    f"class C{i}:\n    def m{i}(self, x):\n        return [x * {i} for _ in range(3) if x]\n\n" for i in range(400)
)


def _burn_cpu_s(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


def test_governor_pauses_in_proportion_to_cpu_used() -> None:
    wall_start, cpu_start = time.monotonic(), time.process_time()
    governor = CpuGovernor(0.5, credit_s=0.0)
    _burn_cpu_s(0.2)
    pause = governor.pause_s()
    cpu_s, wall_s = time.process_time() - cpu_start, time.monotonic() - wall_start
    # at half a CPU, the CPU used needs twice its time in wall time, of which wall_s has passed
    # (more than 0.2 s on a loaded machine: the debt is smaller, not the rule)
    assert pause == pytest.approx(max(0.0, 2 * cpu_s - wall_s), abs=0.02)
    governor.settle()
    assert governor.pause_s() < 0.05


def test_governor_carries_unused_share_up_to_its_credit() -> None:
    without, carrying = CpuGovernor(0.5, credit_s=0.0), CpuGovernor(0.5, credit_s=0.05)
    time.sleep(0.2)  # idle: earns 0.1 CPU-seconds at half a CPU, more than the credit keeps
    assert carrying.balance_s() == pytest.approx(0.05)
    without.settle()
    carrying.settle()
    _burn_cpu_s(0.15)
    # the same interval, less the 0.05 s carried (0.1 s of pause at half a CPU)
    assert carrying.pause_s() == pytest.approx(max(0.0, without.pause_s() - 0.1), abs=0.01)


def test_governor_charges_a_share_of_the_parent_cpu() -> None:
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        stat = Path(f"/proc/{burner.pid}/stat")
        before_s = process_cpu_s(stat)
        alone = CpuGovernor(0.01, credit_s=0.0)
        sharing = CpuGovernor(0.01, credit_s=0.0, parent_pid=burner.pid, siblings=2)
        while process_cpu_s(stat) < before_s + 0.3:
            time.sleep(0.01)
        charged_s = alone.balance_s() - sharing.balance_s()
        used_s = process_cpu_s(stat) - before_s
    finally:
        burner.kill()
        burner.wait()
    assert charged_s == pytest.approx(used_s / 2, abs=0.02)  # clock ticks of /proc are 10 ms


def test_process_cpu_s_reads_proc_stat() -> None:
    _burn_cpu_s(0.05)
    assert process_cpu_s(Path("/proc/self/stat")) == pytest.approx(time.process_time(), abs=0.03)
    assert process_cpu_s(None) == 0.0
    assert process_cpu_s(Path("/proc/0/stat")) == 0.0  # gone: nothing to charge


def test_rss_mb_follows_this_process_and_a_forked_child_reads_its_own() -> None:
    before_mb = rss_mb()
    grown = bytearray(64 * 1_048_576)
    grown[:: os.sysconf("SC_PAGE_SIZE")] = b"x" * len(range(0, len(grown), os.sysconf("SC_PAGE_SIZE")))
    assert rss_mb() > before_mb + 60  # the open descriptor reads the figure of now, not of its opening
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child frees what it inherited: its own reading falls, the parent's would not
        del grown
        os.write(write_end, f"{rss_mb():.1f}".encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_mb = float(os.read(read_end, 64))
    assert child_mb < rss_mb() - 30


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
        report = commands.submit(settings, [repo], commands.RunOptions(ci=False, progress=False, wait=True))
        elapsed_s = time.monotonic() - started
        probe.stop()
    finally:
        fleet.stop()
    assert report.state.finished and report.parsed == 160
    share = probe.cpu_used_s / elapsed_s / settings.concurrency
    assert share <= settings.cpu_limit_pct / 100 + 0.07, f"worker used {share:.0%} of its CPUs"
