"""``parsefleet bench --profile hosts``: throughput with 1, 2 and 3 worker hosts against their CPU.

Each "host" is one worker process with one pool process, capped as a host's worker is (its CPU
governor at PARSEFLEET_CPU_LIMIT_PCT, its memory budget), all on this machine's services and cores;
no network namespace stands between them (tests/test_hosts.py does that, for correctness, not
speed). On a machine with fewer cores than hosts x their CPU share, more hosts share the same
cores: the measured throughput then shows the cost of more workers (per CPU-second), not more
speed. What N hosts of their own would do is projected from one host's measured rate and CPU.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from parsefleet.bench.corpus_files import load_profile
from parsefleet.bench.fleet import FleetRun, cores_given, fleet_run
from parsefleet.bench.runner import warmup_repo
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.migrations import scratch_database
from parsefleet.services.endpoints import Services

__all__ = ["HostRun", "HostsResult", "render", "run_hosts"]

_HOSTS = (1, 2, 3)


@dataclass(frozen=True)
class HostRun:
    """One measured run with ``hosts`` workers."""

    hosts: int
    seconds: float
    files: int
    source_bytes: int
    cpu_s: float  # CPU of every worker tree over the run

    @property
    def bytes_per_s(self) -> float:
        """Source bytes committed per second of the run."""
        return self.source_bytes / self.seconds if self.seconds else 0.0

    @property
    def bytes_per_cpu_s(self) -> float:
        """Source bytes per CPU-second the workers used: falls as more workers cost more."""
        return self.source_bytes / self.cpu_s if self.cpu_s else 0.0


@dataclass(frozen=True)
class HostsResult:
    """The runs, the machine's cores and the projection from one host."""

    corpus: str
    cores: int
    cpu_limit_pct: int
    runs: list[HostRun]

    @property
    def shared_cores(self) -> bool:
        """True when the hosts' CPU (one pool process each, at most one core, at most its cap) adds up
        to more than this machine's cores."""
        per_host = min(1.0, self.cpu_limit_pct / 100 * self.cores)
        return max(run.hosts for run in self.runs) * per_host > self.cores

    def projected_bytes_per_s(self, hosts: int) -> float:
        """N hosts of their own CPU: N times what one host did alone."""
        return hosts * self.runs[0].bytes_per_s

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "corpus": self.corpus,
            "cores": self.cores,
            "cpu_limit_pct": self.cpu_limit_pct,
            "shared_cores": self.shared_cores,
            "runs": [self._run_dict(run) for run in self.runs],
        }

    def _run_dict(self, run: HostRun) -> dict[str, Any]:
        return {
            **asdict(run),
            "bytes_per_s": run.bytes_per_s,
            "bytes_per_cpu_s": run.bytes_per_cpu_s,
            "projected_bytes_per_s": self.projected_bytes_per_s(run.hosts),
        }


def run_hosts(settings: Settings, corpus_dir: Path, hosts: Sequence[int] = _HOSTS) -> HostsResult:
    """Measure a run of the ts2-200 corpus (or the tiny stand-in) with each number of hosts."""
    with tempfile.TemporaryDirectory(prefix="parsefleet-bench-hosts-") as scratch_dir:
        scratch = Path(scratch_dir)
        target, _files = load_profile("ts2-200", corpus_dir, scratch)
        warmup = warmup_repo(scratch)
        env = {"PARSEFLEET_WORKER_CONCURRENCY": "1"}
        runs = []
        with Services(settings) as services:
            for count in hosts:
                with scratch_database(services.database_url, f"parsefleet_bench_hosts_{count}") as url:
                    run = fleet_run(
                        settings,
                        services.redis_url,
                        url,
                        target,
                        warmup=warmup,
                        log_dir=scratch / f"logs-{count}",
                        workers=count,
                        env=env,
                    )
                runs.append(_host_run(count, run))
    return HostsResult(target.name, cores_given(), settings.cpu_limit_pct, runs)


def _host_run(hosts: int, run: FleetRun) -> HostRun:
    files = sum(int(item["files"]) for item in run.languages)
    source = sum(int(item["size_bytes"]) for item in run.languages)
    return HostRun(hosts, run.seconds, files, source, run.cpu_share * run.seconds * run.cores)


def render(result: HostsResult) -> str:
    """The table, and what it measures on this machine."""
    lines = [
        f"hosts profile on {result.corpus}: one worker process per host, {result.cpu_limit_pct}% CPU cap each,"
        f" {result.cores} cores here",
        f"{'hosts':>5}{'seconds':>9}{'files':>7}{'MB/s':>8}{'CPU s':>8}{'MB per CPU s':>14}{'projected MB/s':>16}",
    ]
    for run in result.runs:
        lines.append(
            f"{run.hosts:>5}{run.seconds:>9.2f}{run.files:>7}{run.bytes_per_s / 1e6:>8.2f}{run.cpu_s:>8.2f}"
            f"{run.bytes_per_cpu_s / 1e6:>14.2f}{result.projected_bytes_per_s(run.hosts) / 1e6:>16.2f}"
        )
    if result.shared_cores:
        lines.append(
            f"These hosts share {result.cores} cores: the runs measure the overhead of more workers (MB per CPU"
            " second), not more speed. 'projected' is N hosts of their own CPU: N x one host's measured rate."
        )
    return "\n".join(lines)
