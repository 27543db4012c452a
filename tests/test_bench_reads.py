"""``parsefleet bench --profile reads`` on the tiny stand-in: a real store, a real `parsefleet serve`
process and real fleet runs writing beside the reads. Timings are never asserted here;
docs/benchmarks.md keeps the measured figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parsefleet.bench.reads import Latency, render, run_reads
from parsefleet.contract.settings import Settings

pytestmark = [pytest.mark.service, pytest.mark.slow]


def test_the_reads_profile_serves_every_request_and_times_the_fleet_side_by_side(
    settings: Settings, tmp_path: Path
) -> None:
    result = run_reads(settings, tmp_path / "no-corpus", rounds=1, idle_s=2.0)
    assert result.corpus == "tiny" and result.symbols > 0 and result.files > 0
    for kind in ("find", "outline"):
        idle = result.idle[kind]
        assert idle.requests > 0 and idle.errors == 0, idle
        assert 0 < idle.p50_ms <= idle.p95_ms <= idle.max_ms
        assert result.writing[kind].errors == 0
    assert len(result.fleet_s_without_reads) == len(result.fleet_s_with_reads) == 1
    assert all(seconds > 0 for seconds in result.fleet_s_without_reads + result.fleet_s_with_reads)
    # each writing run stored the whole copy: its files were new blobs, not skipped as unchanged
    assert len(result.files_per_run) == 2 and len(set(result.files_per_run)) == 1 and result.files_per_run[0] > 0
    figures = json.loads(json.dumps(result.as_dict()))
    assert figures["fleet_slowdown"] == pytest.approx(result.fleet_slowdown)
    assert "the reads slowed the fleet by" in render(result)


def test_latency_quantiles_interpolate_and_count_errors() -> None:
    latency = Latency.of([(ms, 200) for ms in (1.0, 2.0, 3.0, 4.0)] + [(10.0, 500)])
    assert latency.requests == 5 and latency.errors == 1
    assert latency.p50_ms == 3.0 and latency.p95_ms == pytest.approx(8.8) and latency.max_ms == 10.0
    assert Latency.of([]) == Latency(0, 0.0, 0.0, 0.0, 0)
