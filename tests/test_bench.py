"""The bench command itself, on the tiny profile: it runs, reports every figure, and breaks loudly.

Timings are never asserted here; docs/benchmarks.md keeps the measured figures.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from parsefleet.bench.fleet import fleet_run
from parsefleet.contract.errors import WorkersDied
from parsefleet.contract.settings import Settings
from tests.conftest import FIXTURES

pytestmark = [pytest.mark.service, pytest.mark.slow]


def _bench(tmp_path: Path, redis_url: str, database_url: str, *extra: str) -> tuple[int, str, dict[str, Any]]:
    out = tmp_path / "bench.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")},
        "PARSEFLEET_REDIS_URL": redis_url,
        "PARSEFLEET_DATABASE_URL": database_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "parsefleet.cli.main", "bench", "--profile", "tiny", "--corpus-dir", str(tmp_path),
         "--json", str(out), *extra],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr, json.loads(out.read_text()) if out.exists() else {}


def test_tiny_bench_reports_every_figure_and_an_invalid_measure_exits_4_without_its_efficiencies(
    tmp_path: Path, redis_url: str, clean_redis: object, clean_db: str
) -> None:
    """Every efficiency is over 0.01: the invocation is invalid whatever the machine's load. The
    tiny profile is too small to be valid at the default bounds (2 Go files)."""
    code, output, figures = _bench(tmp_path, redis_url, clean_db, "--max-rss-mb", "1", "--max-efficiency", "0.01")
    assert code == 4, output
    assert "BREACH: peak RSS" in output
    assert "INVALID: efficiency total " in output and "no efficiency of this invocation is a figure" in output
    assert any(reason.startswith("efficiency total ") for reason in figures["invalid"])
    total_row = next(line for line in output.splitlines() if line.startswith("total "))
    assert " inv. " in total_row and "eff. of the 3 fleet runs" not in output
    assert figures["machine"]["cores"] >= 1 and figures["machine"]["tree_sitter"]
    assert figures["machine"]["redis"][0].isdigit() and figures["machine"]["postgresql"][0].isdigit()
    assert set(figures["files"]) == {"python", "go", "rust"} and all(figures["files"].values())
    fleet = figures["fleet"]
    assert {row["language"] for row in fleet["languages"]} == {"python", "go", "rust"}
    for row in fleet["languages"]:
        for key in (
            "files_per_min",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "queue_wait_p95_ms",
            "partial",
            "fallback",
            "failed",
        ):
            assert row[key] is not None, key
    assert all(rss > 0 for rss in fleet["peak_rss_mb"]) and 0 < fleet["cpu_share"] <= 1
    assert fleet["cold_start_s"] > 0 and fleet["first_batch_ms"] > 0
    assert fleet["listing_s"] > 0 and "listing the target and connecting before it" in output
    assert figures["efficiency"]["with_listing"] == pytest.approx(
        figures["efficiency"]["total"] * fleet["seconds"] / (fleet["seconds"] + fleet["listing_s"])
    )
    for language in ("python", "go", "rust", "total"):
        assert figures["limit"][language]["files_per_min"] > 0
        assert language in figures["efficiency"]
    for row in fleet["languages"]:  # per language: the parse in the workers against the limit's, per process
        outline_mb_per_s = float(row["size_bytes"]) / 1e6 / (float(row["outline_ms"]) / 1000)
        alone_mb_per_s = figures["limit"][row["language"]]["mb_per_outline_s"]
        assert figures["efficiency"][row["language"]] == pytest.approx(outline_mb_per_s / alone_mb_per_s)
    costs = figures["costs"]
    assert costs["queue_overhead_ms_per_task"] > 0 and costs["db_write_ms_per_1000_files"] > 0
    assert set(costs["adapter"]) == {"python", "go", "rust"}
    telemetry = costs["telemetry_flag_0_vs_100"]
    assert telemetry["runs_each"] == 2 and telemetry["p95_difference"] is not None
    assert telemetry["p95_ms_at_0"] > 0 and telemetry["p95_ms_at_100"] > 0
    assert telemetry["files_per_min_at_0"] > 0 and telemetry["files_per_min_at_100"] > 0
    per_batch = costs["telemetry_per_batch"]  # Step 2's own work per batch, committed with and without it
    # a difference of two timings: its sign is noise when Step 2 costs less than the spread
    assert per_batch["batches"] >= 2 and per_batch["cpu_ms"] > 0 and math.isfinite(per_batch["share_of_p95"])
    assert "telemetry 100% per batch" in output
    efficiency = figures["efficiency"]  # every fleet run at 100%: the main one and the telemetry measure's two
    assert len(figures["efficiency_runs"]) == 3 and figures["efficiency_runs"][0] == efficiency["total"]
    assert efficiency["runs_median"] == sorted(figures["efficiency_runs"])[1]
    assert figures["efficiency"]["wall"] > 0 and figures["efficiency"]["total"] > figures["efficiency"]["wall"]
    series = figures["limit_series"]  # limit, fixed run, limit, time-sized run, limit
    assert len(series) == 3 and all(value > 0 for value in series)
    total = figures["limit"]["total"]
    assert series[0] == total["files_per_min"] and total["files_per_min_after"] == series[2]
    assert total["drift"] == pytest.approx(series[2] / series[0] - 1)
    assert figures["efficiency"]["total_after"] == pytest.approx(figures["efficiency"]["total"] * series[1] / series[2])
    assert "limit of the mix before the fixed run, between the runs and after the time-sized run" in output
    assert any(b.startswith("peak RSS") for b in figures["breaches"])
    _assert_sizing_raw_parse_and_system_cpu(figures, output)


def _assert_sizing_raw_parse_and_system_cpu(figures: dict[str, Any], output: str) -> None:
    fixed, main = figures["fixed"], figures["fleet"]
    assert fixed["batch_target_ms"] == 0 and main["batch_target_ms"] == 50
    assert sum(row["files"] for row in fixed["languages"]) == sum(row["files"] for row in main["languages"]) > 0
    assert figures["efficiency_fixed"]["total"] > 0 and "batches, same invocation: fixed 262144 B" in output
    slow = figures["slow"]  # the workers pinned to half the CPUs; nothing on a one-CPU host
    if figures["machine"]["cores_given"] >= 2:
        assert slow["fixed"]["pinned_cpus"] == slow["by_time"]["pinned_cpus"] == figures["machine"]["cores_given"] // 2
        assert slow["by_time"]["batch_target_ms"] == 50 and "host twice as slow per pool process" in output
    for language in ("python", "go", "rust", "total"):  # the raw parse anchor, and the fleet against it
        assert figures["raw_parse"][language]["files_per_min"] > 0
        assert figures["efficiency"][f"raw_{language}"] > 0
    assert "raw tree-sitter parse (no outline)" in output
    for row in main["languages"]:  # each batch's outline CPU beside its wall time
        assert 0 < row["outline_cpu_ms"] <= row["outline_ms"] * 1.05
        assert figures["efficiency"][f"cpu_{row['language']}"] > 0
        assert figures["limit"][row["language"]]["mb_per_cpu_s"] > 0
    assert "the batches waited for a core (" in output and "of their outline time)" in output
    # embedded services: both on this host, their CPU counted with the workers' and the producer's
    assert figures["machine"]["services_counted"] == ["postgresql", "redis"]
    assert set(main["service_cpu_s"]) == {"postgresql", "redis"} and main["service_cpu_s"]["postgresql"] > 0
    assert main["producer_cpu_s"] > 0
    assert 0 < figures["efficiency"]["system_cpu"] < figures["efficiency"]["cpu"]
    assert "files per CPU-second" in output
    peers = figures["peers"]  # the same files through ctags and ast-grep, where installed
    assert peers["python_definitions"] > 100 and peers["parsefleet"]["python_recall"] > 0.99
    assert "peers on the same files" in output
    for name in ("ctags", "ast-grep"):
        if name in peers:
            assert peers[name]["files_per_cpu_s"] > 0 and 0 < peers[name]["python_recall"] <= 1


def test_sweep_runs_each_setting_in_alternating_order_and_reports_each_run(
    tmp_path: Path, redis_url: str, clean_redis: object, clean_db: str
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PARSEFLEET_")},
        "PARSEFLEET_REDIS_URL": redis_url,
        "PARSEFLEET_DATABASE_URL": clean_db,
    }
    small, large = {"batch_max_bytes": 16384}, {"batch_max_bytes": 65536}
    done = subprocess.run(
        [sys.executable, "-m", "parsefleet.bench.sweep", "tiny", "2", json.dumps(small), json.dumps(large)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [record["setting"] for record in records] == [small, large, large, small]
    for record in records:
        assert record["efficiency"] > 0 and record["per_cpu_s"] > 0 and record["fleet_files_per_min"] > 0
        assert record["worst_p95_ms"] > 0 and record["peak_rss_mb"] > 0 and 0 < record["cpu_share"] <= 1


def test_sweep_refuses_a_setting_that_is_not_one() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "parsefleet.bench.sweep", "tiny", "1", '{"batch_size": 1}'],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "sweep: error: a setting must be a JSON object of Settings fields: '{\"batch_size\": 1}'"
    )


def test_a_bench_whose_worker_dies_stops_with_an_error_instead_of_waiting(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.redis_url and settings.database_url
    monkeypatch.setenv("PARSEFLEET_WORKER_CONCURRENCY", "-1")  # the worker process refuses to start
    with pytest.raises(WorkersDied, match="the bench's worker exited"):
        fleet_run(settings, settings.redis_url, settings.database_url, FIXTURES, warmup=FIXTURES, log_dir=tmp_path)
    assert "worker_concurrency must be 0" in (tmp_path / "worker-0.log").read_text()
