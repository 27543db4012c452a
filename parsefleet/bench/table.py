"""The benchmark's one table, as text."""

from __future__ import annotations

from typing import Any

from parsefleet.bench.fleet import FleetRun
from parsefleet.bench.runner import BenchResult
from parsefleet.bench.validity import limit_move

__all__ = ["render"]


def _f(value: Any, spec: str) -> str:
    return "-" if value is None else format(float(value), spec)


_SHOWN_INVALID = "inv."


def _eff(result: BenchResult, value: Any) -> str:
    """An efficiency as printed: not a figure when the invocation is invalid."""
    return _SHOWN_INVALID if result.invalid and value is not None else _f(value, ".2f")


def _series(result: BenchResult) -> list[str]:
    series = result.limit_series
    if not series:
        return []
    shown = " / ".join(f"{value:,.0f}" for value in series)
    return [
        f"limit of the mix before the fixed run, between the runs and after the time-sized run: {shown} files/min"
        f" (moved {limit_move(series):.0%}; an invocation is invalid past 10%)"
    ]


def _system_cpu(result: BenchResult) -> list[str]:
    fleet = result.fleet
    worker_cpu_s = fleet.cpu_share * fleet.seconds * fleet.cores
    services = ", ".join(f"{name} {cpu_s:.2f}" for name, cpu_s in fleet.service_cpu_s.items()) or "none on this host"
    per_cpu_s = fleet.files / fleet.system_cpu_s if fleet.system_cpu_s else 0.0
    return [
        f"CPU of the whole system over the run: workers {worker_cpu_s:.2f} s, producer {fleet.producer_cpu_s:.2f} s,"
        f" services on this host: {services} s; {per_cpu_s:,.1f} files per CPU-second"
        f" (eff. per CPU-second of the whole system {_eff(result, result.efficiency.get('system_cpu'))})"
    ]


def _raw(result: BenchResult) -> list[str]:
    if not result.raw_parse:
        return []
    alone = ", ".join(f"{lang} {v['mb_per_s']:.1f} MB/s" for lang, v in result.raw_parse.items() if lang != "total")
    against = ", ".join(
        f"{lang} {_eff(result, result.efficiency.get(f'raw_{lang}'))}" for lang in result.files if result.files[lang]
    )
    return [
        f"raw tree-sitter parse (no outline), each language alone: {alone};"
        f" the mix {result.raw_parse['total']['files_per_min']:,.0f} files/min",
        f"fleet against the raw parse: outline rate per process {against};"
        f" end to end {_eff(result, result.efficiency.get('raw_total'))} (fleet / (raw parse x CPU cap))",
    ]


def _peers(result: BenchResult) -> list[str]:
    found = result.peers
    if not found:
        return []
    fleet = result.fleet
    worker_cpu_s = fleet.cpu_share * fleet.seconds * fleet.cores
    own = fleet.files / (worker_cpu_s + fleet.producer_cpu_s) if worker_cpu_s else 0.0
    whole = fleet.files / fleet.system_cpu_s if fleet.system_cpu_s else 0.0
    lines = [
        f"peers on the same files: files per CPU-second; recall of CPython ast's {found['python_definitions']:,}"
        f" Python definitions ({found['python_files']} files) with the right qualified name and line",
        f"  {'parsefleet':<22}{whole:>10,.1f} (the whole system; {own:,.1f} of producer and workers)"
        f"  recall {found['parsefleet']['python_recall']:.3f}",
    ]
    for name in ("ctags", "ast-grep"):
        peer = found.get(name)
        if peer is None:
            lines.append(f"  {name:<22} not installed")
            continue
        version = " ".join(peer["version"].split()[:3]).rstrip(",")
        lines.append(f"  {version:<22}{_f(peer['files_per_cpu_s'], ',.1f'):>10}  recall {peer['python_recall']:.3f}")
    return lines


def _p95s(run: FleetRun) -> str:
    return " / ".join(f"{row['language']} {_f(row['p95_ms'], '.0f')}" for row in run.languages)


def _rate(run: FleetRun) -> float:
    return run.files / run.seconds * 60 if run.seconds else 0.0


def _batches(run: FleetRun) -> int:
    return sum(int(row["batches"]) for row in run.languages)


def _sizing(result: BenchResult) -> list[str]:
    fixed = result.fixed
    if fixed is None:
        return []
    main = result.fleet
    lines = [
        f"batches, same invocation: fixed {result.machine['batch_max_bytes']} B: {_batches(fixed)} batches,"
        f" {_rate(fixed):,.0f} files/min, eff. {_eff(result, result.efficiency_fixed.get('total'))},"
        f" p95 ms {_p95s(fixed)}",
        f"  by time ({main.batch_target_ms:g} ms, the main run): {_batches(main)} batches, {_rate(main):,.0f}"
        f" files/min, eff. {_eff(result, result.efficiency.get('total'))}, p95 ms {_p95s(main)}",
    ]
    slow = result.slow
    if slow:
        pinned = slow["fixed"].pinned_cpus
        lines.append(
            f"host twice as slow per pool process (workers pinned to {pinned} of {main.cores} CPUs):"
            f" fixed {_rate(slow['fixed']):,.0f} files/min, p95 ms {_p95s(slow['fixed'])};"
            f" by time {_rate(slow['by_time']):,.0f} files/min, p95 ms {_p95s(slow['by_time'])}"
        )
    return lines


def _per_language_notes(result: BenchResult) -> list[str]:
    """What a language's eff. is, and the same per CPU-second of the outline."""
    fleet = result.fleet
    lines: list[str] = []
    lines.append(
        "eff. per language: its batches' outline rate in the workers (bytes per outline second) over the"
        " limit's per process with the language alone, by the same clock (each batch's duration_ms)"
    )
    by_cpu = ", ".join(
        f"{row['language']} {_f(result.efficiency.get('cpu_' + row['language']), '.2f')}" for row in fleet.languages
    )
    wall_ms = sum(float(row["outline_ms"]) for row in fleet.languages if row.get("outline_cpu_ms"))
    cpu_ms = sum(float(row["outline_cpu_ms"]) for row in fleet.languages if row.get("outline_cpu_ms"))
    waited = f"{1 - cpu_ms / wall_ms:.0%}" if wall_ms else "-"
    lines.append(
        f"the same per CPU-second of the outline (the load of other processes cannot lower it): {by_cpu};"
        f" at 1 while the eff. above is lower, the batches waited for a core ({waited} of their outline time)"
    )
    return lines


def render(result: BenchResult) -> str:
    """Per language and total: throughput vs limit, latency, memory, CPU, cold start, outcomes."""
    m = result.machine
    fleet = result.fleet
    lines = [
        f"profile {result.profile}: {sum(result.files.values())} files {result.files}",
        f"machine: {m['cores']} cores, Python {m['python']}, tree-sitter {m['tree_sitter']}, celery {m['celery']},"
        f" Redis {m['redis']}, PostgreSQL {m['postgresql']}, {m['worker_concurrency']} pool processes,"
        f" batch {m['batch_max_bytes']} B at most, sized for {fleet.batch_target_ms:g} ms of parse",
        f"{'language':<9}{'fleet f/min':>12}{'limit f/min':>12}{'eff.':>7}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'wait p95':>9}{'partial':>8}{'fallbk':>7}{'failed':>7}",
    ]
    for row in fleet.languages:
        language = row["language"]
        limit = result.limit.get(language, {})
        lines.append(
            f"{language:<9}{_f(row['files_per_min'], ',.0f'):>12}{_f(limit.get('in_mix_files_per_min'), ',.0f'):>12}"
            f"{_eff(result, result.efficiency.get(language)):>7}{_f(row['p50_ms'], '.1f'):>8}"
            f"{_f(row['p95_ms'], '.1f'):>8}"
            f"{_f(row['p99_ms'], '.1f'):>8}{_f(row['queue_wait_p95_ms'], '.1f'):>9}"
            f"{row['partial']:>8}{row['fallback']:>7}"
            f"{row['failed']:>7}"
        )
    total_files = sum(int(row["files"]) for row in fleet.languages)
    total_rate = total_files / fleet.seconds * 60 if fleet.seconds else 0.0
    lines.append(
        f"{'total':<9}{total_rate:>12,.0f}{_f(result.limit.get('total', {}).get('files_per_min'), ',.0f'):>12}"
        f"{_eff(result, result.efficiency.get('total')):>7}   ({total_files} files in {fleet.seconds:.2f} s)"
    )
    lines.append(
        f"timed from the run's start (the producer's first file read) to its last commit; listing the target"
        f" and connecting before it: {fleet.listing_s * 1000:.0f} ms (eff. counting it"
        f" {_eff(result, result.efficiency.get('with_listing'))})"
    )
    alone = ", ".join(
        f"{lang} {v['files_per_min']:,.0f} files/min {v['mb_per_s']:.1f} MB/s"
        for lang, v in result.limit.items()
        if lang != "total"
    )
    lines.append(f"limit, each language alone on {m['cores_given']} processes: {alone}")
    lines.extend(_series(result))
    lines.extend(_sizing(result))
    lines.extend(_raw(result))
    lines.extend(_system_cpu(result))
    lines.extend(_peers(result))
    lines.extend(_per_language_notes(result))
    lines.append(
        f"eff. (total) = fleet / (limit x CPU cap {m['cpu_limit_pct']}%); against the uncapped limit"
        f" {_eff(result, result.efficiency.get('wall'))}; per CPU-second of the workers"
        f" {_eff(result, result.efficiency.get('cpu'))}"
    )
    if result.efficiency_runs and not result.invalid:
        each = ", ".join(f"{value:.2f}" for value in result.efficiency_runs)
        lines.append(
            f"eff. of the {len(result.efficiency_runs)} fleet runs at telemetry 100% (this one, then the telemetry"
            f" measure's): {each}; median {_f(result.efficiency.get('runs_median'), '.2f')}"
        )
    rss = ", ".join(f"{value:.0f}" for value in fleet.peak_rss_mb)
    lines.append(
        f"peak RSS per worker (main + children): {rss} MB; CPU share of the workers: {fleet.cpu_share:.0%}"
        f" of {m['cores_given']} cores"
    )
    lines.append(
        f"cold start: worker start to first stored outline {fleet.cold_start_s:.2f} s; first batch of the run"
        f" {_f(fleet.first_batch_ms, '.1f')} ms, committed {_f(fleet.first_outline_s, '.2f')} s after submit"
    )
    costs = result.costs
    adapter = ", ".join(f"{lang} {v['overhead']:.0%}" for lang, v in costs["adapter"].items())
    lines.append(
        f"costs: queue overhead {costs['queue_overhead_ms_per_task']:.2f} ms/task; database writes"
        f" {costs['db_write_ms_per_1000_files']:.0f} ms per 1,000 files; adapter over bare parse: {adapter}"
    )
    telemetry = costs["telemetry_flag_0_vs_100"]
    lines.append(
        f"telemetry flag 0% vs 100% ({telemetry['runs_each']} runs each): p95 {telemetry['p95_ms_at_0']:.1f} vs"
        f" {telemetry['p95_ms_at_100']:.1f} ms ({_f(telemetry['p95_difference'], '+.1%')}),"
        f" {telemetry['files_per_min_at_0']:,.0f} vs {telemetry['files_per_min_at_100']:,.0f} files/min"
    )
    per_batch = costs.get("telemetry_per_batch")
    if per_batch:
        lines.append(
            f"telemetry 100% per batch ({per_batch['batches']} batches committed with and without it, median):"
            f" {per_batch['wall_ms']:+.2f} ms wall, {per_batch['cpu_ms']:+.2f} ms CPU after the outline,"
            f" {per_batch['share_of_p95']:.1%} of the p95 batch"
        )
    lines.extend(f"BREACH: {breach}" for breach in result.breaches)
    lines.extend(f"INVALID: {reason}; no efficiency of this invocation is a figure" for reason in result.invalid)
    return "\n".join(lines)
