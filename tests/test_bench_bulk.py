"""The bulk bench profile end to end on the tiny stand-in corpus, dealt into a few small repositories:
both layouts run through real `parsefleet submit` processes and a real worker, and every figure is
there (the figures themselves go to docs/benchmarks.md, not into assertions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsefleet.bench.bulk import SMALL_FILES, render, run_bulk
from parsefleet.contract.settings import Settings

pytestmark = [pytest.mark.service, pytest.mark.slow]


def test_the_bulk_profile_runs_both_layouts_of_the_same_files(settings: Settings, tmp_path: Path) -> None:
    result = run_bulk(settings, tmp_path / "no-corpus", small=5, rounds=1)
    assert result.one.repositories == 1 and result.many.repositories == 5 + 1
    assert result.one.files == result.many.files > 5 * SMALL_FILES  # the same files, each parsed once
    for layout in (result.one, result.many):
        assert layout.seconds > 0 and layout.files_per_min > 0
        assert layout.first_outline_s is not None and 0 <= layout.first_outline_s <= layout.seconds
        assert layout.producer_peak_rss_mb > 0 and layout.redis_peak_mb > 0
    assert [run.name for run in result.runs] == ["one", "many"]
    assert result.ratio > 0
    assert "many/one files/min" in render(result)
