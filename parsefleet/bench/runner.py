"""``parsefleet bench``: the limit, the fleet, the cost of each part, in one invocation."""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from parsefleet.bench.corpus_files import BenchFile, load_profile
from parsefleet.bench.costs import db_write_ms_per_1000_files, queue_overhead_ms, telemetry_per_batch
from parsefleet.bench.fleet import FleetRun, cores_given, fleet_run
from parsefleet.bench.limit import Throughput, adapter_cost, limit
from parsefleet.contract.languages import LANGUAGES
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import redis_client
from parsefleet.plumbing.database import session
from parsefleet.plumbing.migrations import scratch_database
from parsefleet.services.endpoints import Services

__all__ = ["Floors", "best_limit", "fleet_efficiency", "run_bench", "warmup_repo"]

_ADAPTER_SAMPLE = 300
_DB_SAMPLE = 1000
_TELEMETRY_SAMPLE = 1500  # files, taken evenly over the profile so that every language is in its batches
_LIMIT_REPEATS = 3
_DB_PREFIX = "parsefleet_bench"
_TELEMETRY_ORDER = (0, 100, 100, 0)


@dataclass(frozen=True)
class Floors:
    """The seed's floors and caps (shared/DESIGN.md); a run breaking one exits non-zero."""

    max_rss_mb: float = 450.0
    max_p95_ms: float = 210.0
    min_files_per_min: float = 200.0
    max_cpu_share: float = 0.70


@dataclass
class BenchResult:
    """Every figure of one benchmark invocation."""

    machine: dict[str, Any]
    profile: str
    files: dict[str, int]
    limit: dict[str, dict[str, float]]
    fleet: FleetRun
    costs: dict[str, Any]
    efficiency: dict[str, float]
    # The total efficiency of every fleet run with the flag at 100%: the main run, then the
    # telemetry measure's; ``efficiency["runs_median"]`` is their median.
    efficiency_runs: list[float] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {**asdict(self), "fleet": asdict(self.fleet)}


def run_bench(settings: Settings, profile: str, corpus_dir: Path, floors: Floors) -> BenchResult:
    """Measure everything in one invocation; ``breaches`` lists what broke a floor or a cap."""
    with tempfile.TemporaryDirectory(prefix="parsefleet-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        target, files = load_profile(profile, corpus_dir, scratch)
        limits = _limits(files, cores_given())
        costs: dict[str, Any] = {"adapter": {}}
        for language in LANGUAGES:
            cost = adapter_cost([f for f in files if f.language == language][:_ADAPTER_SAMPLE])
            costs["adapter"][language] = {
                "parse_s": cost.parse_s,
                "outline_s": cost.outline_s,
                "overhead": cost.overhead,
            }
        warmup = warmup_repo(scratch)
        with (
            Services(settings) as services,
            scratch_database(services.database_url, "parsefleet_bench") as database_url,
        ):
            costs["db_write_ms_per_1000_files"] = db_write_ms_per_1000_files(settings, database_url, files[:_DB_SAMPLE])
            fleet = fleet_run(
                settings, services.redis_url, database_url, target, warmup=warmup, log_dir=scratch / "logs"
            )
            _limit_after(limits, files, cores_given())
            costs["queue_overhead_ms_per_task"] = _overhead(settings, services.redis_url, database_url, scratch)
            machine = _machine(settings, services.redis_url, database_url)
            telemetry_runs = _telemetry_runs(settings, services, target, warmup, scratch)
            costs["telemetry_flag_0_vs_100"] = _telemetry_cost(telemetry_runs)
            costs["telemetry_per_batch"] = _step2_per_batch(settings, services.redis_url, database_url, files, fleet)
    cap_share = settings.cpu_limit_pct / 100
    efficiency = fleet_efficiency(limits, fleet, cap_share)
    runs = [fleet_efficiency(limits, run, cap_share)["total"] for run in [fleet, *telemetry_runs[100]]]
    efficiency["runs_median"] = statistics.median(runs)
    result = BenchResult(machine, profile, _counts(files), limits, fleet, costs, efficiency, runs)
    result.breaches = _breaches(result, floors)
    return result


def best_limit(files: Sequence[BenchFile], processes: int) -> Throughput:
    """The best of ``_LIMIT_REPEATS`` runs: a limit is what the machine can do, not its noise."""
    return max((limit(files, processes) for _ in range(_LIMIT_REPEATS)), key=lambda run: run.files_per_min)


def _limits(files: Sequence[BenchFile], processes: int) -> dict[str, dict[str, float]]:
    """Each language alone, then the whole mix; ``in_mix_files_per_min`` is a language's share of the mix."""
    out: dict[str, dict[str, float]] = {}
    for language in LANGUAGES:
        mine = [f for f in files if f.language == language]
        if mine:
            alone = best_limit(mine, processes)
            out[language] = {"files_per_min": alone.files_per_min, "mb_per_s": alone.mb_per_s}
    mix = best_limit(files, processes)
    out["total"] = {
        "files_per_min": mix.files_per_min,
        "mb_per_s": mix.mb_per_s,
        "cpu_s": mix.seconds * processes,
    }
    for language, figure in out.items():
        if language != "total":
            count = sum(1 for f in files if f.language == language)
            figure["in_mix_files_per_min"] = count / mix.seconds * 60 if mix.seconds else 0.0
    return out


def _limit_after(limits: dict[str, dict[str, float]], files: Sequence[BenchFile], processes: int) -> None:
    """The mix's limit again, right after the fleet run: how far the machine's own speed moved while
    the fleet ran (``drift``). The efficiency stays against the limit before; ``total_after`` in the
    efficiencies is against this one, so every run shows the spread its host adds."""
    after = best_limit(files, processes)
    total = limits["total"]
    total["files_per_min_after"] = after.files_per_min
    total["drift"] = after.files_per_min / total["files_per_min"] - 1 if total["files_per_min"] else 0.0


def _telemetry_runs(
    settings: Settings, services: Services, target: Path, warmup: Path, scratch: Path
) -> dict[int, list[FleetRun]]:
    """The same run with the telemetry flag at 0% and at 100%, twice each in the order 0, 100,
    100, 0 (so a drift of the machine weighs on both), each on a fresh database."""
    runs: dict[int, list[FleetRun]] = {0: [], 100: []}
    for round_number, pct in enumerate(_TELEMETRY_ORDER):
        with scratch_database(services.database_url, _DB_PREFIX) as database_url:
            log_dir = scratch / f"logs-telemetry-{round_number}"
            runs[pct].append(
                fleet_run(
                    settings, services.redis_url, database_url, target, warmup=warmup, log_dir=log_dir, flag_pct=pct
                )
            )
    return runs


def _telemetry_cost(runs: dict[int, list[FleetRun]]) -> dict[str, Any]:
    """p95 batch latency (files-weighted over the languages) and files/min at 0% and at 100%, and
    the p95 difference of 100% over 0%."""
    p95 = {pct: statistics.mean(_weighted_p95(run) for run in done) for pct, done in runs.items()}
    rate = {pct: statistics.mean(_files_per_min(run) for run in done) for pct, done in runs.items()}
    return {
        "p95_ms_at_0": p95[0],
        "p95_ms_at_100": p95[100],
        "p95_difference": p95[100] / p95[0] - 1 if p95[0] else None,
        "files_per_min_at_0": rate[0],
        "files_per_min_at_100": rate[100],
        "runs_each": len(runs[0]),
        "p95_ms_each_run": {str(pct): [_weighted_p95(run) for run in done] for pct, done in runs.items()},
    }


def _step2_per_batch(
    settings: Settings, redis_url: str, database_url: str, files: Sequence[BenchFile], fleet: FleetRun
) -> dict[str, float]:
    """Step 2's own cost per batch, on files taken evenly over the profile, and its share of the
    fleet run's p95 batch."""
    step = max(1, len(files) // _TELEMETRY_SAMPLE)
    per_batch = telemetry_per_batch(settings, redis_url, database_url, files[::step])
    p95_ms = _weighted_p95(fleet)
    per_batch["share_of_p95"] = per_batch["wall_ms"] / p95_ms if p95_ms else 0.0
    return per_batch


def _weighted_p95(run: FleetRun) -> float:
    rows = [row for row in run.languages if row["p95_ms"] is not None]
    files = sum(int(row["files"]) for row in rows)
    return sum(float(row["p95_ms"]) * int(row["files"]) for row in rows) / files if files else 0.0


def _files_per_min(run: FleetRun) -> float:
    return sum(int(row["files"]) for row in run.languages) / run.seconds * 60 if run.seconds else 0.0


def _overhead(settings: Settings, redis_url: str, database_url: str, scratch: Path) -> float:
    from parsefleet.services.local_workers import LocalWorkers

    workers = LocalWorkers(redis_url, database_url, scratch / "logs-overhead", count=1)
    workers.start()
    try:
        queue_overhead_ms(settings, redis_url, database_url, batches=20)  # warm-up
        return queue_overhead_ms(settings, redis_url, database_url)
    finally:
        workers.stop()


def warmup_repo(scratch: Path) -> Path:
    warm = scratch / "warmup"
    warm.mkdir()
    (warm / "w.py").write_text("def warm():\n    return 1\n")
    (warm / "w.go").write_text("package w\n\nfunc Warm() int { return 1 }\n")
    (warm / "w.rs").write_text("pub fn warm() -> i32 { 1 }\n")
    return warm


def _counts(files: Sequence[BenchFile]) -> dict[str, int]:
    return {language: sum(1 for f in files if f.language == language) for language in LANGUAGES}


def fleet_efficiency(limits: dict[str, dict[str, float]], fleet: FleetRun, cap_share: float) -> dict[str, float]:
    """Fleet files/min over what the limit allows the fleet on the same mix and cores: the limit's
    files/min times the CPU cap (``cap_share``), since the workers may use only that share of the
    cores while the limit loop uses all of them. ``wall`` is the same ratio without the cap; ``cpu``
    compares files per CPU-second of the worker processes with files per CPU-second of the limit;
    ``with_listing`` is ``total`` over the run plus the producer's listing before it.

    Per language, the figure is the parse's alone: bytes per second of the language's batches
    while being outlined in the workers (their ``duration_ms``) over the limit's bytes per second
    per process with the language alone. In a mixed run the languages share the workers, so a
    language's end-to-end rate has no limit of its own to be compared with; this shows whether the
    parse itself runs at the machine's speed inside the fleet (contention lowers it).
    """
    total_files = sum(int(row["files"]) for row in fleet.languages)
    wall = total_files / fleet.seconds * 60 / limits["total"]["files_per_min"] if fleet.seconds else 0.0
    out = {"total": wall / cap_share, "wall": wall}
    if fleet.seconds:  # the same, with the producer's listing before the run's start counted in
        out["with_listing"] = out["total"] * fleet.seconds / (fleet.seconds + fleet.listing_s)
    if limits["total"].get("files_per_min_after"):
        out["total_after"] = out["total"] * limits["total"]["files_per_min"] / limits["total"]["files_per_min_after"]
    for row in fleet.languages:  # the parse inside the workers against the limit's, per language
        per_process_mb_per_s = limits.get(row["language"], {}).get("mb_per_s", 0.0) / fleet.cores
        if row.get("outline_ms") and per_process_mb_per_s:
            outline_mb_per_s = float(row["size_bytes"]) / 1e6 / (float(row["outline_ms"]) / 1000)
            out[row["language"]] = outline_mb_per_s / per_process_mb_per_s
    worker_cpu_s = fleet.cpu_share * fleet.seconds * fleet.cores
    limit_files_per_cpu_s = total_files / limits["total"]["cpu_s"] if limits["total"]["cpu_s"] else 0.0
    if worker_cpu_s and limit_files_per_cpu_s:
        out["cpu"] = total_files / worker_cpu_s / limit_files_per_cpu_s
    return out


def _breaches(result: BenchResult, floors: Floors) -> list[str]:
    found = [
        f"peak RSS {rss:.0f} MB >= {floors.max_rss_mb:.0f} MB"
        for rss in result.fleet.peak_rss_mb
        if rss >= floors.max_rss_mb
    ]
    if result.fleet.cpu_share > floors.max_cpu_share + 0.02:
        found.append(f"CPU share {result.fleet.cpu_share:.0%} > {floors.max_cpu_share:.0%}")
    for row in result.fleet.languages:
        if row["p95_ms"] is not None and float(row["p95_ms"]) > floors.max_p95_ms:
            found.append(f"{row['language']} p95 {float(row['p95_ms']):.0f} ms > {floors.max_p95_ms:.0f} ms")
        if float(row["files_per_min"]) < floors.min_files_per_min:
            found.append(
                f"{row['language']} {float(row['files_per_min']):.0f} files/min < {floors.min_files_per_min:.0f}"
            )
    if sum(int(row["failed"]) for row in result.fleet.languages):
        found.append("files failed")
    return found


def _machine(settings: Settings, redis_url: str, database_url: str) -> dict[str, Any]:
    with session(database_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    client = redis_client(redis_url)
    try:
        redis_server = str(client.info("server").get("redis_version", "unknown"))
    finally:
        client.close()
    return {
        "cores": os.cpu_count(),
        "worker_concurrency": settings.concurrency,
        "cores_given": cores_given(),
        "cpu_limit_pct": settings.cpu_limit_pct,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tree_sitter": version("tree-sitter"),
        "celery": version("celery"),
        "redis_client": version("redis"),
        "redis": redis_server,
        "postgresql": str(row[0]) if row else "unknown",
        "batch_max_bytes": settings.batch_max_bytes,
        "median_cpu_mhz": _cpu_mhz(),
    }


def _cpu_mhz() -> float | None:
    try:
        values = [
            float(line.split(":")[1])
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("cpu MHz")
        ]
    except OSError:
        return None
    return statistics.median(values) if values else None
