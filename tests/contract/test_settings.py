from pathlib import Path

import pytest

from parsefleet.contract.errors import ConfigError
from parsefleet.contract.settings import Settings


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


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://:hunter2@/tmp/redis.sock", "database must be a number"),
        ("redis://:hunter2@cache:63x9/0", "port is not a number"),
        ("unix://", "needs the socket's path"),
    ],
)
def test_unusable_redis_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env({"PARSEFLEET_REDIS_URL": url})
    assert "hunter2" not in str(caught.value)


def test_a_database_dsn_in_keyword_form_is_refused_without_its_password() -> None:
    with pytest.raises(ConfigError, match="unsupported URL") as caught:
        Settings.from_env({"PARSEFLEET_DATABASE_URL": "host=db password=hunter2"})
    assert "hunter2" not in str(caught.value)


def test_a_relative_data_directory_is_taken_from_where_the_command_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"PARSEFLEET_DATA_DIR": "data"}).data_dir == tmp_path / "data"
    assert Settings.from_env({}, data_dir=Path("x/../y")).data_dir == tmp_path / "y"
