"""Resolve the Redis and PostgreSQL URLs a command uses: configured servers, or embedded ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType

from common.broker import redis_client
from common.database import connect
from common.settings import Settings
from parsefleet.embedded import EmbeddedPostgres, EmbeddedRedis

__all__ = ["Services"]


@dataclass
class Services:
    """A context manager giving ``redis_url`` and ``database_url``; embedded ones stop on exit."""

    settings: Settings
    need_redis: bool = True
    redis_url: str = ""
    database_url: str = ""
    _redis: EmbeddedRedis | None = field(default=None, repr=False)

    def __enter__(self) -> Services:
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
