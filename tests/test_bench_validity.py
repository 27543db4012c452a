"""The bench's validity rule (pure): a limit that moved, an efficiency over 1.05."""

from __future__ import annotations

import pytest

from parsefleet.bench.validity import Validity, invalid_reasons, limit_move


def test_steady_limit_and_plausible_efficiencies_are_valid() -> None:
    assert invalid_reasons([90_000, 92_000, 88_000], {"total": 0.91, "rust": 1.05}, Validity()) == []


def test_limit_moving_more_than_ten_percent_is_invalid_and_says_by_how_much() -> None:
    assert limit_move([90_000, 100_000, 95_000]) == pytest.approx(100_000 / 90_000 - 1)
    reasons = invalid_reasons([90_000, 100_000, 95_000], {"total": 0.9}, Validity())
    assert len(reasons) == 1
    assert reasons[0].startswith("the limit moved by 11% between its measurements (90,000 / 100,000 / 95,000")


def test_an_efficiency_over_the_bound_is_invalid_each_named() -> None:
    reasons = invalid_reasons([50_000, 50_500], {"total": 1.4, "go": 0.8, "python": 2.4}, Validity())
    assert reasons == [
        "efficiency total 1.40 > 1.05: the limit was starved while measured",
        "efficiency python 2.40 > 1.05: the limit was starved while measured",
    ]


def test_bounds_are_settings_and_an_empty_limit_is_invalid() -> None:
    assert invalid_reasons([50_000, 80_000], {"total": 1.2}, Validity(max_efficiency=2, max_limit_move=1)) == []
    assert invalid_reasons([50_000, 0.0], {}, Validity(max_limit_move=10)) == ["a limit measurement finished no file"]
    assert limit_move([70_000]) == 0.0
