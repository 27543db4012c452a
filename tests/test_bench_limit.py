"""The limit loop: real loop processes over the fixtures, doing a worker's per-batch work, and the
per-language efficiency against it (same clock: bytes per second inside a batch).

Timings are never asserted here, only what they are made of.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parsefleet.bench.corpus_files import BenchFile, load_profile
from parsefleet.bench.fleet import FleetRun
from parsefleet.bench.limit import WorkerBudget, limit
from parsefleet.bench.runner import fleet_efficiency
from parsefleet.contract.settings import Settings
from parsefleet.workers.app import child_budget_mb


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[BenchFile]:
    scratch = tmp_path_factory.mktemp("limit")
    _, loaded = load_profile("tiny", scratch, scratch)
    return [item for item in loaded if "fixtures" in item.path.parts]


def test_the_budget_is_a_pool_childs_of_the_same_settings() -> None:
    settings = Settings.from_env({"PARSEFLEET_WORKER_CONCURRENCY": "2", "PARSEFLEET_MAX_FILE_SYMBOLS": "7"})
    budget = WorkerBudget.of(settings)
    assert budget.timeout_s == settings.parse_timeout_s
    assert budget.rss_limit_mb == child_budget_mb(settings) < settings.max_memory_mb
    assert budget.symbols_max == 7 and budget.reparsed == settings.reparsed_languages


def test_every_file_goes_through_the_workers_checks_in_passes_up_to_the_bytes_asked(
    files: list[BenchFile], tmp_path: Path
) -> None:
    """With the worker's budget every fixture is outlined; with a cap of no symbols, a worker would
    record each file with a definition failed (every fixture has one), and so does the loop: the
    checks are the worker's."""
    size = sum(len(item.content) for item in files)
    budget = WorkerBudget.of(Settings.from_env({}))
    done = limit(files, 2, budget, min_bytes=3 * size - 1)
    assert (done.files, done.size_bytes, done.processes, done.failed) == (3 * len(files), 3 * size, 2, 0)
    assert 0 < done.cpu_s <= done.outline_s * 1.01  # each batch's own clocks (CPU within wall)
    assert done.mb_per_outline_s == pytest.approx(3 * size / 1e6 / done.outline_s)
    empty = BenchFile(tmp_path / "empty.rs", "rust", b"// no definition\n")
    capped = limit([*files, empty], 2, WorkerBudget(budget.timeout_s, budget.rss_limit_mb, 0), min_bytes=0)
    assert (capped.files, capped.failed) == (len(files) + 1, len(files))
    raw = limit(files, 2, budget, outline=False, min_bytes=0)
    assert raw.files == len(files) and raw.outline_s > 0 and raw.failed == 0


def test_a_languages_efficiency_is_its_batches_rate_over_the_loops_per_process_by_the_same_clock() -> None:
    fleet = FleetRun(
        seconds=2.0,
        languages=[
            {"language": "rust", "files": 240, "size_bytes": 2_600_000, "outline_ms": 500.0, "outline_cpu_ms": 450.0}
        ],
        peak_rss_mb=[100.0],
        cpu_share=0.7,
        first_outline_s=0.1,
        first_batch_ms=20.0,
        cold_start_s=1.0,
        cores=2,
    )
    limits = {
        "rust": {"mb_per_s": 10.4, "mb_per_outline_s": 6.5, "mb_per_cpu_s": 6.5},
        "total": {"files_per_min": 10_000.0, "files_per_cpu_s": 80.0},
    }
    efficiency = fleet_efficiency(limits, fleet, 0.7)
    assert efficiency["rust"] == pytest.approx(2.6 / 0.5 / 6.5)  # not over the wall rate shared by the cores
    assert efficiency["cpu_rust"] == pytest.approx(2.6 / 0.45 / 6.5)
    assert efficiency["cpu"] == pytest.approx(240 / (0.7 * 2.0 * 2) / 80.0)


def test_the_loop_outlines_what_it_is_given_only(tmp_path: Path) -> None:
    one = BenchFile(tmp_path / "a.rs", "rust", b"pub fn a() -> i32 { 1 }\n")
    done = limit([one], 1, WorkerBudget.of(Settings.from_env({})), min_bytes=0)
    assert (done.files, done.size_bytes, done.failed) == (1, len(one.content), 0)
