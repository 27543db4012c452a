"""``parsefleet bench``: the limit, the fleet, the cost of each part, in one invocation."""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

from parsefleet.bench.corpus_files import BenchFile, load_profile
from parsefleet.bench.costs import db_write_ms_per_1000_files, queue_overhead_ms, telemetry_per_batch
from parsefleet.bench.fleet import FleetRun, cores_given, fleet_run
from parsefleet.bench.limit import Throughput, WorkerBudget, adapter_cost, limit
from parsefleet.bench.peers import peers
from parsefleet.bench.system_cpu import local_service_pids
from parsefleet.bench.validity import Validity, invalid_reasons
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
    fleet: FleetRun  # the main run: batches sized by time (the default settings)
    costs: dict[str, Any]
    efficiency: dict[str, float]
    # The total efficiency of every fleet run with the flag at 100%: the main run, then the
    # telemetry measure's; ``efficiency["runs_median"]`` is their median.
    efficiency_runs: list[float] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    # The raw tree-sitter parse (no outline) by the same loop: each language alone, and the mix.
    raw_parse: dict[str, dict[str, float]] = field(default_factory=dict)
    # The mix's limit measured before, between and after the two compared fleet runs (files/min).
    limit_series: list[float] = field(default_factory=list)
    # The same files in fixed batch_max_bytes batches, right before the main run, and its efficiencies.
    fixed: FleetRun | None = None
    efficiency_fixed: dict[str, float] = field(default_factory=dict)
    # A host twice as slow per pool process (the workers pinned to half the CPUs): fixed, then by time.
    slow: dict[str, FleetRun] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)  # why the invocation's efficiencies are not figures
    peers: dict[str, Any] = field(default_factory=dict)  # ctags and ast-grep on the same files (bench.peers)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return asdict(self)


def run_bench(
    settings: Settings, profile: str, corpus_dir: Path, floors: Floors, validity: Validity | None = None
) -> BenchResult:
    """Measure everything in one invocation; ``breaches`` lists what broke a floor or a cap,
    ``invalid`` why the efficiencies cannot be trusted (parsefleet.bench.validity)."""
    with tempfile.TemporaryDirectory(prefix="parsefleet-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        target, files = load_profile(profile, corpus_dir, scratch)
        cores = cores_given()
        budget = WorkerBudget.of(settings)
        limits = _limits(files, cores, budget)
        raw_parse = _limits(files, cores, budget, outline=False)
        costs: dict[str, Any] = {"adapter": _adapter_costs(files)}
        warmup = warmup_repo(scratch)
        with (
            Services(settings) as services,
            scratch_database(services.database_url, "parsefleet_bench") as database_url,
        ):
            costs["db_write_ms_per_1000_files"] = db_write_ms_per_1000_files(settings, database_url, files[:_DB_SAMPLE])
            runs = _Runs(settings, services, target, warmup, scratch)
            series = [limits["total"]["files_per_min"]]
            fixed = runs.fleet("fixed", batch_target_ms=0.0)
            series.append(best_limit(files, cores, budget).files_per_min)
            fleet = runs.fleet("main")
            series.append(best_limit(files, cores, budget).files_per_min)
            costs["queue_overhead_ms_per_task"] = _overhead(settings, services.redis_url, database_url, scratch)
            machine = _machine(settings, services.redis_url, database_url)
            machine["services_counted"] = sorted(runs.service_pids)
            telemetry_runs = runs.telemetry()
            costs["telemetry_flag_0_vs_100"] = _telemetry_cost(telemetry_runs)
            costs["telemetry_per_batch"] = _step2_per_batch(settings, services.redis_url, database_url, files, fleet)
            slow = runs.slow(cores)
        found_peers = peers(files, target)
    cap_share = settings.cpu_limit_pct / 100
    around_main = _bracketed(limits, series[1], series[2])
    efficiency = fleet_efficiency(around_main, fleet, cap_share, raw_parse)
    efficiency_fixed = fleet_efficiency(_bracketed(limits, series[0], series[1]), fixed, cap_share, raw_parse)
    limits["total"]["files_per_min_after"] = series[-1]
    limits["total"]["drift"] = series[-1] / series[0] - 1 if series[0] else 0.0
    main_runs = [fleet_efficiency(around_main, run, cap_share)["total"] for run in [fleet, *telemetry_runs[100]]]
    efficiency["runs_median"] = statistics.median(main_runs)
    result = BenchResult(machine, profile, _counts(files), limits, fleet, costs, efficiency, main_runs)
    result.raw_parse, result.limit_series, result.fixed, result.slow = raw_parse, series, fixed, slow
    result.efficiency_fixed, result.peers = efficiency_fixed, found_peers
    result.breaches = _breaches(result, floors)
    result.invalid = invalid_reasons(series, _checked(efficiency, efficiency_fixed), validity or Validity())
    return result


class _Runs:
    """The invocation's fleet runs on one set of services, each on a fresh database."""

    def __init__(self, settings: Settings, services: Services, target: Path, warmup: Path, scratch: Path) -> None:
        self.settings, self.services, self.target, self.warmup, self.scratch = (
            settings, services, target, warmup, scratch,
        )  # fmt: skip
        self.service_pids = local_service_pids(services.redis_url, services.database_url)

    def fleet(self, name: str, *, flag_pct: int = 100, pin_cpus: set[int] | None = None, **changes: Any) -> FleetRun:
        """One run of the target on a fresh database, with ``changes`` to the producer's settings."""
        with scratch_database(self.services.database_url, _DB_PREFIX) as database_url:
            return fleet_run(
                replace(self.settings, **changes),
                self.services.redis_url,
                database_url,
                self.target,
                warmup=self.warmup,
                log_dir=self.scratch / f"logs-{name}",
                flag_pct=flag_pct,
                service_pids=self.service_pids,
                pin_cpus=pin_cpus,
            )

    def telemetry(self) -> dict[int, list[FleetRun]]:
        """The same run with the telemetry flag at 0% and at 100%, twice each in the order 0, 100,
        100, 0 (so a drift of the machine weighs on both)."""
        runs: dict[int, list[FleetRun]] = {0: [], 100: []}
        for round_number, pct in enumerate(_TELEMETRY_ORDER):
            runs[pct].append(self.fleet(f"telemetry-{round_number}", flag_pct=pct))
        return runs

    def slow(self, cores: int) -> dict[str, FleetRun]:
        """A host twice as slow per pool process: the workers pinned to half the CPUs after their
        warm-up, so that each pool child parses on half a core. Fixed batches first (their batches
        teach the workers' estimate the slower rate), then sized by time. Nothing on one CPU."""
        if cores < 2:
            return {}
        half = set(sorted(os.sched_getaffinity(0))[: cores // 2])
        out = {}
        for name, target_ms in (("fixed", 0.0), ("by_time", self.settings.batch_target_ms)):
            out[name] = self.fleet(f"slow-{name}", pin_cpus=half, batch_target_ms=target_ms)
        return out


def _adapter_costs(files: Sequence[BenchFile]) -> dict[str, dict[str, float]]:
    out = {}
    for language in LANGUAGES:
        cost = adapter_cost([f for f in files if f.language == language][:_ADAPTER_SAMPLE])
        out[language] = {"parse_s": cost.parse_s, "outline_s": cost.outline_s, "overhead": cost.overhead}
    return out


def _bracketed(limits: dict[str, dict[str, float]], before: float, after: float) -> dict[str, dict[str, float]]:
    """``limits`` with the mix's limit measured right before and right after one fleet run."""
    total = {**limits["total"], "files_per_min": before, "files_per_min_after": after}
    return {**limits, "total": total}


def _checked(*efficiencies: dict[str, float]) -> dict[str, float]:
    """The efficiencies the validity rule looks at, named by run ('' the main one, 'fixed ' the other):
    not the diagnostics against other anchors (the raw parse, the outline's CPU)."""
    out = {}
    for prefix, figures in zip(("", "fixed "), efficiencies, strict=False):
        out.update(
            {f"{prefix}{name}": value for name, value in figures.items() if not name.startswith(("raw", "cpu_"))}
        )
    return out


def best_limit(files: Sequence[BenchFile], processes: int, budget: WorkerBudget, *, outline: bool = True) -> Throughput:
    """The best of ``_LIMIT_REPEATS`` runs: a limit is what the machine can do, not its noise."""
    return max(_repeated(files, processes, budget, outline=outline), key=lambda run: run.files_per_min)


def _repeated(files: Sequence[BenchFile], processes: int, budget: WorkerBudget, *, outline: bool) -> list[Throughput]:
    return [limit(files, processes, budget, outline=outline) for _ in range(_LIMIT_REPEATS)]


def _limits(
    files: Sequence[BenchFile], processes: int, budget: WorkerBudget, *, outline: bool = True
) -> dict[str, dict[str, float]]:
    """Each language alone, then the whole mix; ``in_mix_files_per_min`` is a language's share of the
    mix. Per language, ``mb_per_outline_s`` and ``mb_per_cpu_s`` are per loop process, by the
    batches' own clock (parsefleet.bench.limit), the best of the runs each. ``outline`` False: the
    raw parse alone."""
    out: dict[str, dict[str, float]] = {}
    for language in LANGUAGES:
        mine = [f for f in files if f.language == language]
        if mine:
            runs = _repeated(mine, processes, budget, outline=outline)
            alone = max(runs, key=lambda run: run.files_per_min)
            out[language] = {
                "files_per_min": alone.files_per_min,
                "mb_per_s": alone.mb_per_s,
                "mb_per_outline_s": max(run.mb_per_outline_s for run in runs),
                "mb_per_cpu_s": max(run.mb_per_cpu_s for run in runs),
            }
    mix = best_limit(files, processes, budget, outline=outline)
    out["total"] = {
        "files_per_min": mix.files_per_min,
        "mb_per_s": mix.mb_per_s,
        "files_per_cpu_s": mix.files / (mix.seconds * processes) if mix.seconds else 0.0,
    }
    passes = mix.files / len(files) if files else 1.0
    for language, figure in out.items():
        if language != "total":
            count = sum(1 for f in files if f.language == language)
            figure["in_mix_files_per_min"] = count * passes / mix.seconds * 60 if mix.seconds else 0.0
    return out


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


def fleet_efficiency(
    limits: dict[str, dict[str, float]],
    fleet: FleetRun,
    cap_share: float,
    raw_parse: dict[str, dict[str, float]] | None = None,
) -> dict[str, float]:
    """Fleet files/min over what the limit allows the fleet on the same mix and cores: the limit's
    files/min times the CPU cap (``cap_share``), since the workers may use only that share of the
    cores while the limit loop uses all of them. ``wall`` is the same ratio without the cap; ``cpu``
    compares files per CPU-second of the worker processes with files per CPU-second of the limit
    (``files_per_cpu_s``: its files over its wall time times its processes);
    ``with_listing`` is ``total`` over the run plus the producer's listing before it.

    Per language, the figure is the parse's alone: bytes per second of the language's batches
    while being outlined in the workers (their ``duration_ms``) over the limit's per process with
    the language alone, by the same clock over the same work (the loop's jobs are batches outlined
    by ``outline_batch``: parsefleet.bench.limit). In a mixed run the languages share the workers, so a
    language's end-to-end rate has no limit of its own to be compared with; this shows whether the
    parse itself runs at the machine's speed inside the fleet (contention lowers it).

    ``system_cpu`` is ``cpu`` counting the producer and the services on this host too. Against
    ``raw_parse`` (the loop parsing without the outline): ``raw_total`` the fleet end to end over
    the raw parse's files/min times the cap, ``raw_<language>`` the outline rate in the workers over
    the raw parse's per process.
    """
    total_files = sum(int(row["files"]) for row in fleet.languages)
    wall = total_files / fleet.seconds * 60 / limits["total"]["files_per_min"] if fleet.seconds else 0.0
    out = {"total": wall / cap_share, "wall": wall}
    if fleet.seconds:  # the same, with the producer's listing before the run's start counted in
        out["with_listing"] = out["total"] * fleet.seconds / (fleet.seconds + fleet.listing_s)
    if limits["total"].get("files_per_min_after"):
        out["total_after"] = out["total"] * limits["total"]["files_per_min"] / limits["total"]["files_per_min_after"]
    out.update(_outline_against(limits, fleet))  # the parse inside the workers against the limit's
    out.update(_outline_cpu_against(limits, fleet))
    worker_cpu_s = fleet.cpu_share * fleet.seconds * fleet.cores
    limit_files_per_cpu_s = limits["total"].get("files_per_cpu_s", 0.0)
    if worker_cpu_s and limit_files_per_cpu_s:
        out["cpu"] = total_files / worker_cpu_s / limit_files_per_cpu_s
        out["system_cpu"] = total_files / fleet.system_cpu_s / limit_files_per_cpu_s
    if raw_parse:
        out.update(_against_raw(raw_parse, fleet, wall * limits["total"]["files_per_min"] / cap_share))
    return out


def _against_raw(raw_parse: dict[str, dict[str, float]], fleet: FleetRun, capped_rate: float) -> dict[str, float]:
    out = _outline_against(raw_parse, fleet, prefix="raw_")
    if raw_parse["total"]["files_per_min"]:
        out["raw_total"] = capped_rate / raw_parse["total"]["files_per_min"]
    return out


def _outline_cpu_against(anchor: dict[str, dict[str, float]], fleet: FleetRun) -> dict[str, float]:
    """Per language: bytes per CPU-second of the outline in the workers (the pool child's thread)
    over the loop's per CPU-second. Unlike the wall-time figures, load from other processes does
    not lower it: below 1 the outline itself costs more CPU in the workers; at 1 with a lower wall
    figure the batches waited for a core."""
    out = {}
    for row in fleet.languages:
        loop_mb_per_cpu_s = anchor.get(row["language"], {}).get("mb_per_cpu_s", 0.0)
        if row.get("outline_cpu_ms") and loop_mb_per_cpu_s:
            mb_per_cpu_s = float(row["size_bytes"]) / 1e6 / (float(row["outline_cpu_ms"]) / 1000)
            out[f"cpu_{row['language']}"] = mb_per_cpu_s / loop_mb_per_cpu_s
    return out


def _outline_against(anchor: dict[str, dict[str, float]], fleet: FleetRun, prefix: str = "") -> dict[str, float]:
    """Per language: bytes per outline-second in the workers over the anchor loop's per process, both
    by the batches' own clock (their ``duration_ms``)."""
    out = {}
    for row in fleet.languages:
        per_process_mb_per_s = anchor.get(row["language"], {}).get("mb_per_outline_s", 0.0)
        if row.get("outline_ms") and per_process_mb_per_s:
            outline_mb_per_s = float(row["size_bytes"]) / 1e6 / (float(row["outline_ms"]) / 1000)
            out[prefix + row["language"]] = outline_mb_per_s / per_process_mb_per_s
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
