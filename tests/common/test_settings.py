from pathlib import Path

import pytest

from common.errors import ConfigError
from common.settings import Settings, redact_url


def test_environment_values_are_typed() -> None:
    settings = Settings.from_env(
        {
            "PARSEFLEET_BATCH_MAX_BYTES": "2048",
            "PARSEFLEET_PARSE_TIMEOUT_S": "1.5",
            "PARSEFLEET_DATA_DIR": "/tmp/pf",
            "PARSEFLEET_RETRY_CRASHED": "Yes",
        }
    )
    assert settings.retry_crashed is True
    assert Settings.from_env({"PARSEFLEET_RETRY_CRASHED": "0"}).retry_crashed is False
    assert settings.batch_max_bytes == 2048
    assert settings.parse_timeout_s == 1.5
    assert settings.data_dir == Path("/tmp/pf")
    assert settings.redis_url is None


def test_overrides_win_over_environment_and_none_is_ignored() -> None:
    settings = Settings.from_env(
        {"PARSEFLEET_REDIS_URL": "redis://a:6379/0"}, redis_url=None, database_url="postgresql://b/c"
    )
    assert settings.redis_url == "redis://a:6379/0"
    assert settings.database_url == "postgresql://b/c"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PARSEFLEET_BATCH_MAX_BYTES": "lots"}, "must be a number"),
        ({"PARSEFLEET_BATCH_MAX_BYTES": "0"}, "must be positive"),
        ({"PARSEFLEET_CPU_LIMIT_PCT": "170"}, "within 1..100"),
        ({"PARSEFLEET_RETRY_CRASHED": "maybe"}, "must be one of 1, true, yes, 0, false, no"),
        ({"PARSEFLEET_REDIS_URL": "http://user:hunter2@host/"}, "unsupported URL"),
    ],
)
def test_bad_values_raise_config_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env(env)
    assert "hunter2" not in str(caught.value)


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("rediss://:s3cret@cache.example:6380/2") == "rediss://:***@cache.example:6380/2"
    assert redact_url("postgresql://app:pw@db/parse?sslmode=require") == "postgresql://app:***@db/parse?sslmode=require"
    assert redact_url("unix:///tmp/redis.sock") == "unix:///tmp/redis.sock"
