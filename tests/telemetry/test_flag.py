"""The telemetry flag: deterministic sampling, stored value, revert, and a worker's cached view."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import redis

from parsefleet.contract.errors import ConfigError, StepTwoReverted
from parsefleet.contract.names import TELEMETRY_FLAG, TELEMETRY_REVERTED_KEY
from parsefleet.contract.settings import Settings
from parsefleet.telemetry.flag import FlagCache, FlagState, TelemetryFlag, parse_pct, sampled


def test_sampling_is_deterministic_nested_and_close_to_the_percentage() -> None:
    ids = [f"{uuid.UUID(int=index)}:{index:06d}" for index in range(4000)]
    at = {pct: {unit for unit in ids if sampled(unit, pct)} for pct in (0, 25, 75, 100)}
    assert at[0] == set() and at[100] == set(ids)
    assert at[25] <= at[75]  # raising the percentage only adds units
    assert abs(len(at[25]) / len(ids) - 0.25) < 0.03
    assert abs(len(at[75]) / len(ids) - 0.75) < 0.03
    # the same answer in another interpreter (no per-process hash seed)
    script = "from parsefleet.telemetry.flag import sampled; print(sum(sampled(f'unit-{i}', 25) for i in range(500)))"
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert int(other.stdout) == sum(sampled(f"unit-{i}", 25) for i in range(500))


@pytest.mark.parametrize("text", ["101", "-1", "abc", "", "2.5", "1e2"])
def test_bad_percentages_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match=r"0\.\.100"):
        parse_pct(text)


def test_revert_turns_step2_off_whatever_the_percentage() -> None:
    state = FlagState(100, reverted=True)
    assert state.effective_pct == 0
    assert not any(state.samples(f"b{index}") for index in range(200))
    assert "reverted" in state.render()


@pytest.mark.service
def test_stored_flag_set_revert_and_re_enable(clean_redis: redis.Redis, redis_url: str) -> None:
    flag = TelemetryFlag(clean_redis, redis_url)
    assert flag.read() == FlagState(0)  # absent: Step 1
    assert flag.set_pct(25) == FlagState(0)
    assert clean_redis.get(TELEMETRY_FLAG) == b"25"
    assert flag.revert() == FlagState(25)
    assert flag.read() == FlagState(0, reverted=True)
    with pytest.raises(StepTwoReverted, match="--enable-step2"):
        flag.set_pct(50)
    flag.set_pct(0)  # lowering stays allowed
    assert flag.set_pct(50, enable_step2=True) == FlagState(0, reverted=True)
    assert flag.read() == FlagState(50)
    assert not clean_redis.exists(TELEMETRY_REVERTED_KEY)
    clean_redis.set(TELEMETRY_FLAG, "lots")
    with pytest.raises(ConfigError, match="lots"):
        flag.read()
    assert flag.set_pct(10) == FlagState(0)  # a malformed value can be overwritten


@pytest.mark.service
def test_cache_rereads_after_its_ttl_and_falls_back_to_step1(clean_redis: redis.Redis, redis_url: str) -> None:
    now = [0.0]
    cache = FlagCache(redis_url, ttl_s=5.0, clock=lambda: now[0])
    clean_redis.set(TELEMETRY_FLAG, "75")
    assert cache.current().pct == 75
    clean_redis.set(TELEMETRY_FLAG, "0")
    now[0] = 4.9
    assert cache.current().pct == 75  # still trusted
    now[0] = 5.0
    assert cache.current().pct == 0
    clean_redis.set(TELEMETRY_FLAG, "junk")
    now[0] = 10.0
    assert cache.current() == FlagState(0)  # unreadable: Step 1 only
    broken = FlagCache("redis://127.0.0.1:1/0", ttl_s=5.0, clock=lambda: now[0])
    assert broken.current() == FlagState(0)


def test_flag_cache_ttl_is_capped_at_5_seconds() -> None:
    assert Settings.from_env({}).flag_cache_ttl_s == 5.0
    with pytest.raises(ConfigError, match="flag_cache_ttl_s"):
        Settings.from_env({"PARSEFLEET_FLAG_CACHE_TTL_S": "6"})
