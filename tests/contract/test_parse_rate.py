"""The parse-rate estimate (pure): decayed sums weighted by batch size, its stored form, the
slowest host class per language."""

from __future__ import annotations

import pytest

from parsefleet.contract.parse_rate import MIN_ESTIMATE_BYTES, RATE_WEIGHT, ParseRate, rate_field, slowest_rates


def test_first_batch_gives_its_own_rate_and_no_batch_gives_none() -> None:
    assert ParseRate().bytes_per_s is None
    first = ParseRate().updated(200_000, 0.04, at_s=10.0)
    assert first.bytes_per_s == pytest.approx(5_000_000)
    assert (first.batches, first.updated_at_s) == (1, 10.0)


def test_estimate_follows_a_host_that_turned_twice_as_slow() -> None:
    rate = ParseRate()
    for _ in range(20):
        rate = rate.updated(100_000, 0.01, at_s=1.0)  # 10 MB/s
    assert rate.bytes_per_s == pytest.approx(10_000_000)
    after_one = rate.updated(100_000, 0.02, at_s=2.0)  # 5 MB/s now
    assert 5_000_000 < (after_one.bytes_per_s or 0) < 10_000_000
    for _ in range(int(3 / RATE_WEIGHT) * 2):
        rate = rate.updated(100_000, 0.02, at_s=2.0)
    assert rate.bytes_per_s == pytest.approx(5_000_000, rel=0.01)


def test_a_tiny_batch_barely_moves_the_estimate() -> None:
    rate = ParseRate().updated(250_000, 0.05, at_s=1.0)  # 5 MB/s
    moved = rate.updated(100, 0.001, at_s=2.0)  # a warm-up batch at 0.1 MB/s
    assert moved.bytes_per_s == pytest.approx(5_000_000, rel=0.03)


def test_empty_or_timeless_batches_change_nothing() -> None:
    rate = ParseRate().updated(1000, 0.001, at_s=1.0)
    assert rate.updated(0, 0.5, at_s=2.0) == rate
    assert rate.updated(1000, 0.0, at_s=2.0) == rate


def test_stored_form_round_trips_and_garbage_is_no_estimate() -> None:
    rate = ParseRate().updated(12_345, 0.0123, at_s=99.5)
    assert ParseRate.loads(rate.dumps()) == rate
    assert ParseRate.loads(rate.dumps().encode()) == rate
    for garbage in (None, b"", b"not json", b"[1, 2]", b'["a", 1, 1, 1]'):
        assert ParseRate.loads(garbage) == ParseRate()


def test_slowest_host_class_sizes_each_language() -> None:
    fast = ParseRate().updated(10_000_000, 1.0, at_s=1.0)
    slow = ParseRate().updated(4_000_000, 1.0, at_s=1.0)
    stored = {
        rate_field("go", "big"): fast,
        rate_field("go", "small"): slow,
        rate_field("python", "big"): fast,
        rate_field("rust", "big"): ParseRate(),
    }
    assert slowest_rates(stored) == {"go": pytest.approx(4e6), "python": pytest.approx(1e7)}


def test_an_estimate_of_a_few_small_batches_sizes_nothing() -> None:
    tiny = ParseRate().updated(60, 0.00045, at_s=1.0)  # a 60-byte batch: overhead, not parse speed
    assert tiny.bytes_per_s is not None and tiny.bytes_per_s < 200_000
    assert slowest_rates({rate_field("go", "default"): tiny}) == {}
    enough = tiny.updated(MIN_ESTIMATE_BYTES, 0.01, at_s=2.0)
    assert slowest_rates({rate_field("go", "default"): enough}) == {"go": enough.bytes_per_s}
