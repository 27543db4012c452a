"""A/B of settings in one invocation: ``python -m parsefleet.bench.sweep PROFILE ROUNDS SETTING...``.

Each SETTING is a JSON object of ``Settings`` fields (``'{"batch_max_bytes": 262144}'``). Every
round runs each setting once, in order on even rounds and reversed on odd ones, so a drift of the
machine weighs on every side; each fleet run (as ``parsefleet bench`` runs it: workers started and
warmed, a fresh database) is preceded by its own limit (best of 3), and its efficiency is against
that limit. One JSON line per run goes to stdout. Used for the batch-size choice in
docs/benchmarks.md.

A SETTING reaches the producer (batch size, windows, pending batches); the workers are separate
processes that read their settings from the environment, so a worker setting (concurrency, CPU
cap) is compared by running the sweep twice with different ``PARSEFLEET_*`` variables, alternated.
Comparing code is the same: run each checkout in turn *from its own directory* — ``python -m``
puts the working directory first on ``sys.path``, and the workers inherit it, so PYTHONPATH alone
does not select the code.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parsefleet.bench.corpus_files import load_profile
from parsefleet.bench.fleet import FleetRun, cores_given, fleet_run
from parsefleet.bench.limit import WorkerBudget
from parsefleet.bench.runner import best_limit, fleet_efficiency, warmup_repo
from parsefleet.contract.errors import ConfigError
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.migrations import scratch_database
from parsefleet.services.endpoints import Services

__all__ = ["main", "sweep"]


def sweep(
    base: Settings, profile: str, corpus_dir: Path, rounds: int, variants: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run every variant ``rounds`` times, alternating the order; return (and print) one record per run."""
    records = []
    with tempfile.TemporaryDirectory(prefix="parsefleet-sweep-") as scratch_dir:
        scratch = Path(scratch_dir)
        target, files = load_profile(profile, corpus_dir, scratch)
        warmup = warmup_repo(scratch)
        with Services(base) as services:
            for round_number in range(rounds):
                order = list(variants) if round_number % 2 == 0 else list(reversed(variants))
                for index, variant in enumerate(order):
                    settings = dataclasses.replace(base, **variant)
                    mix = best_limit(files, cores_given(), WorkerBudget.of(base))
                    per_cpu_s = mix.files / (mix.seconds * cores_given()) if mix.seconds else 0.0
                    limits = {"total": {"files_per_min": mix.files_per_min, "files_per_cpu_s": per_cpu_s}}
                    with scratch_database(services.database_url, "parsefleet_sweep") as database_url:
                        log_dir = scratch / f"logs-{round_number}-{index}"
                        run = fleet_run(
                            settings, services.redis_url, database_url, target, warmup=warmup, log_dir=log_dir
                        )
                    record = _record(
                        round_number,
                        variant,
                        mix.files_per_min,
                        run,
                        fleet_efficiency(limits, run, base.cpu_limit_pct / 100),
                    )
                    print(json.dumps(record), flush=True)
                    records.append(record)
    return records


def _record(
    round_number: int, variant: dict[str, Any], limit_files_per_min: float, run: FleetRun, eff: dict[str, float]
) -> dict[str, Any]:
    files = sum(int(row["files"]) for row in run.languages)
    return {
        "round": round_number,
        "setting": variant,
        "efficiency": round(eff["total"], 3),
        "per_cpu_s": round(eff.get("cpu", 0.0), 3),
        "limit_files_per_min": round(limit_files_per_min),
        "fleet_files_per_min": round(files / run.seconds * 60) if run.seconds else 0,
        "worst_p95_ms": round(max(float(row["p95_ms"]) for row in run.languages), 1),
        "cpu_share": round(run.cpu_share, 3),
        "seconds": round(run.seconds, 2),
        "peak_rss_mb": round(max(run.peak_rss_mb), 1),
        "first_commit_s": round(float(run.first_outline_s or 0.0), 3),
    }


def main(argv: Sequence[str]) -> int:
    """``PROFILE ROUNDS SETTING...``; corpora from ./corpus (``make corpus``)."""
    if len(argv) < 3 or not argv[1].isdigit():
        print("usage: python -m parsefleet.bench.sweep PROFILE ROUNDS SETTING_JSON...", file=sys.stderr)
        return 2
    try:
        variants = [_variant(text) for text in argv[2:]]
        sweep(Settings.from_env(), argv[0], Path("corpus"), int(argv[1]), variants)
    except ConfigError as exc:
        print(f"sweep: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _variant(text: str) -> dict[str, Any]:
    known = {item.name for item in dataclasses.fields(Settings)}
    try:
        variant = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"a setting must be a JSON object: {text!r} ({exc.msg})") from exc
    if not isinstance(variant, dict) or not set(variant) <= known:
        raise ConfigError(f"a setting must be a JSON object of Settings fields: {text!r}")
    return variant


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
