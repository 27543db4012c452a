"""Resolve the Redis and PostgreSQL URLs a command uses: configured servers, or embedded ones."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from common.broker import redis_client
from common.database import connect
from common.errors import ConfigError
from common.settings import Settings
from parsefleet.embedded import EmbeddedPostgres, EmbeddedRedis

__all__ = ["Services", "usable_data_dir"]


def usable_data_dir(directory: Path) -> Path:
    """Create ``directory`` if needed and return it; ConfigError (one line) when this user cannot use it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        usable = os.access(directory, os.R_OK | os.W_OK | os.X_OK)
        problem = "" if usable else "permission denied"
    except OSError as exc:
        problem = exc.strerror or str(exc)
    if problem:
        raise ConfigError(
            f"data directory {directory}: {problem}; set PARSEFLEET_DATA_DIR (or --data-dir) to one you can write"
        )
    return directory


@dataclass
class Services:
    """A context manager giving ``redis_url`` and ``database_url``; embedded ones stop on exit."""

    settings: Settings
    need_redis: bool = True
    redis_url: str = ""
    database_url: str = ""
    _redis: EmbeddedRedis | None = field(default=None, repr=False)

    def __enter__(self) -> Services:
        if self.settings.database_url is None or (self.need_redis and self.settings.redis_url is None):
            usable_data_dir(self.settings.data_dir)
        if self.settings.database_url is None:
            self.database_url = EmbeddedPostgres(self.settings.data_dir / "postgres").start()
        else:
            self.database_url = self.settings.database_url
            connect(self.database_url).close()
        if self.need_redis:
            if self.settings.redis_url is None:
                self._redis = EmbeddedRedis(self.settings.data_dir / "redis")
                self.redis_url = self._redis.start()
            else:
                self.redis_url = self.settings.redis_url
                redis_client(self.redis_url).close()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._redis is not None:
            self._redis.stop()
