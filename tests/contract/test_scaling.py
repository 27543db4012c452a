"""The scaling advice's arithmetic and the heartbeat record (pure code)."""

from __future__ import annotations

import pytest

from parsefleet.contract.heartbeat import Heartbeat, LanguageWork
from parsefleet.contract.scaling import WorkerSize, advise, pooled_rates


def _beat(worker_id: str, **languages: LanguageWork) -> Heartbeat:
    return Heartbeat(
        worker_id=worker_id, node="n@h", host="h", pid=1, state="running", started_at=0.0, beat_at=1.0,
        concurrency=2, slot_share=0.7, cpu_limit_pct=70, max_memory_mb=512, rss_bytes=1, cpu_share_1m=0.5,
        active=0, batches_done=3, last_batch_at=None, last_taken_at=None, stalled_since=None, languages=languages,
    )  # fmt: skip


def test_rates_are_pooled_over_workers_by_bytes_and_batch_seconds() -> None:
    beats = [
        _beat("a", python=LanguageWork(10, 4_000_000, 1.0, 2.0)),
        _beat("b", python=LanguageWork(10, 2_000_000, 1.0, 2.0), go=LanguageWork(1, 1_000, 0.1, 0.5)),
    ]
    assert pooled_rates(beats) == {"python": 1_500_000.0, "go": 2_000.0}


def test_advice_is_ceil_of_work_over_target_times_worker_slots() -> None:
    size = WorkerSize(2, 0.7)  # 1.4 process-seconds per second
    advice = advise({"python": 30_000_000, "go": 0}, {"python": 1_000_000.0}, size, 10.0, alive_slots=1.4, alive=1)
    assert advice.work_s == {"python": 30.0}
    assert advice.workers == 3  # ceil(30 / (10 x 1.4)) = ceil(2.14)
    assert advice.eta_s == pytest.approx(30 / 1.4)
    assert any("30.0 / (10 x 1.40) = 2.143 -> 3 workers" in line for line in advice.lines())


def test_an_unmeasured_language_is_assumed_as_slow_as_the_slowest_and_said() -> None:
    rates = {"python": 2_000_000.0, "go": 1_000_000.0}
    advice = advise({"rust": 5_000_000}, rates, WorkerSize(1, 1.0), 1.0, alive_slots=1.0, alive=1)
    assert advice.rates["rust"] == 1_000_000.0 and "go" in advice.assumed["rust"]
    assert advice.workers == 5


def test_no_backlog_advises_none_and_no_measurement_advises_one() -> None:
    assert advise({}, {"python": 1.0}, WorkerSize(1, 1.0), 60.0, alive_slots=0.0, alive=0).workers == 0
    blind = advise({"python": 10}, {}, WorkerSize(1, 1.0), 60.0, alive_slots=0.0, alive=0)
    assert blind.workers == 1 and blind.eta_s is None


def test_heartbeat_round_trips_as_json_and_refuses_other_records() -> None:
    beat = _beat("w", python=LanguageWork(1, 100, 0.5, 1.0))
    assert Heartbeat.from_json(beat.to_json()) == beat
    languages = beat.as_dict()["languages"]
    assert isinstance(languages, dict) and languages["python"]["parse_bytes_per_s"] == 200.0
    for raw in ("[]", "{}", '{"worker_id": 1}', "not json", beat.to_json().replace('"running"', '"bogus"')):
        with pytest.raises(ValueError, match="not a heartbeat record"):
            Heartbeat.from_json(raw)
