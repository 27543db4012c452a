"""The benchmark's one table, as text."""

from __future__ import annotations

from typing import Any

from parsefleet.bench.runner import BenchResult

__all__ = ["render"]


def _f(value: Any, spec: str) -> str:
    return "-" if value is None else format(float(value), spec)


_DRIFT_NOTE = 0.10  # the host's own speed moving by more than this across the fleet run is called out


def _drift(result: BenchResult) -> list[str]:
    total = result.limit.get("total", {})
    if "files_per_min_after" not in total:
        return []
    lines = [
        f"limit of the mix before / after the fleet run: {total['files_per_min']:,.0f} /"
        f" {total['files_per_min_after']:,.0f} files/min ({total['drift']:+.0%}); eff. against the limit after"
        f" {_f(result.efficiency.get('total_after'), '.2f')}"
    ]
    if abs(total["drift"]) > _DRIFT_NOTE:
        lines.append(
            f"NOTE: the machine's own speed moved by {total['drift']:+.0%} across the fleet run;"
            " its efficiency is uncertain by as much"
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
        f" batch {m['batch_max_bytes']} B",
        f"{'language':<9}{'fleet f/min':>12}{'limit f/min':>12}{'eff.':>7}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'wait p95':>9}{'partial':>8}{'fallbk':>7}{'failed':>7}",
    ]
    for row in fleet.languages:
        language = row["language"]
        limit = result.limit.get(language, {})
        lines.append(
            f"{language:<9}{_f(row['files_per_min'], ',.0f'):>12}{_f(limit.get('in_mix_files_per_min'), ',.0f'):>12}"
            f"{_f(result.efficiency.get(language), '.2f'):>7}{_f(row['p50_ms'], '.1f'):>8}{_f(row['p95_ms'], '.1f'):>8}"
            f"{_f(row['p99_ms'], '.1f'):>8}{_f(row['queue_wait_p95_ms'], '.1f'):>9}"
            f"{row['partial']:>8}{row['fallback']:>7}"
            f"{row['failed']:>7}"
        )
    total_files = sum(int(row["files"]) for row in fleet.languages)
    total_rate = total_files / fleet.seconds * 60 if fleet.seconds else 0.0
    lines.append(
        f"{'total':<9}{total_rate:>12,.0f}{_f(result.limit.get('total', {}).get('files_per_min'), ',.0f'):>12}"
        f"{_f(result.efficiency.get('total'), '.2f'):>7}   ({total_files} files in {fleet.seconds:.2f} s)"
    )
    lines.append(
        f"timed from the run's start (the producer's first file read) to its last commit; listing the target"
        f" and connecting before it: {fleet.listing_s * 1000:.0f} ms (eff. counting it"
        f" {_f(result.efficiency.get('with_listing'), '.2f')})"
    )
    alone = ", ".join(
        f"{lang} {v['files_per_min']:,.0f} files/min {v['mb_per_s']:.1f} MB/s"
        for lang, v in result.limit.items()
        if lang != "total"
    )
    lines.append(f"limit, each language alone on {m['cores_given']} processes: {alone}")
    lines.extend(_drift(result))
    lines.append(
        "eff. per language: its batches' outline rate in the workers (bytes per outline second) over the"
        " limit's per process with the language alone"
    )
    lines.append(
        f"eff. (total) = fleet / (limit x CPU cap {m['cpu_limit_pct']}%); against the uncapped limit"
        f" {_f(result.efficiency.get('wall'), '.2f')}; per CPU-second of the workers"
        f" {_f(result.efficiency.get('cpu'), '.2f')}"
    )
    if result.efficiency_runs:
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
    return "\n".join(lines)
