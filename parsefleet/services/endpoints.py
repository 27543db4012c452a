"""The Redis and PostgreSQL a command uses: the configured servers, or the embedded ones.

Embedded services live in the data directory (parsefleet.services.data_dir) and are shared by
every parsefleet process using that directory (parsefleet.services.lease): the first starts them,
the last to leave stops them, whatever order the processes end in and however they end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from parsefleet.contract.settings import Settings
from parsefleet.plumbing.broker import redis_client
from parsefleet.plumbing.database import connect
from parsefleet.services.account import Account, service_account
from parsefleet.services.data_dir import DataDirectory
from parsefleet.services.embedded_postgres import EmbeddedPostgres
from parsefleet.services.embedded_redis import EmbeddedRedis
from parsefleet.services.lease import ServiceLease

__all__ = ["Services", "embedded_postgres", "embedded_redis", "stop_unused", "usable_data_dir"]

log = logging.getLogger(__name__)


def _quiet(_message: str) -> None:
    """The default of ``Services.say``: say nothing."""


def usable_data_dir(settings: Settings) -> DataDirectory:
    """The data directory of ``settings``, created private (or ConfigError, one line)."""
    directory = DataDirectory(settings.data_dir, service_account(settings.service_user))
    directory.prepare()
    return directory


def embedded_redis(directory: DataDirectory) -> EmbeddedRedis:
    """The embedded Redis of a data directory."""
    return EmbeddedRedis(directory.service_dir("redis"), directory.account)


def embedded_postgres(directory: DataDirectory) -> EmbeddedPostgres:
    """The embedded PostgreSQL of a data directory."""
    return EmbeddedPostgres(directory.service_dir("postgres"), directory.account)


def stop_unused(settings: Settings) -> bool | None:
    """Stop the embedded services of the data directory of ``settings`` when no parsefleet process
    uses them (a process killed with SIGKILL leaves them running): True when one was running and is
    stopped, False when they are in use, None when none is running."""
    path = settings.data_dir
    if not (path / "services.lock").exists():
        return None
    directory = usable_data_dir(settings)
    lease = ServiceLease(directory.path)
    try:
        if not lease.take_unused():
            return False
        stopped = False
        if (path / "redis").is_dir() and (redis := embedded_redis(directory)).answers():
            redis.stop()
            stopped = True
        if (path / "postgres" / "postmaster.pid").exists():
            embedded_postgres(directory).stop()
            stopped = True
        return stopped or None
    finally:
        lease.close()


@dataclass
class Services:
    """A context manager giving ``redis_url`` and ``database_url``.

    ``say`` hears one line before each embedded service is started (for a person waiting).
    """

    settings: Settings
    need_redis: bool = True
    need_database: bool = True
    say: Callable[[str], None] = _quiet
    redis_url: str = ""
    database_url: str = ""
    account: Account | None = None
    _lease: ServiceLease | None = field(default=None, repr=False)
    _embedded: list[EmbeddedRedis | EmbeddedPostgres] = field(default_factory=list, repr=False)

    def __enter__(self) -> Services:
        embed_db = self.need_database and self.settings.database_url is None
        embed_redis = self.need_redis and self.settings.redis_url is None
        if embed_db or embed_redis:
            self._start_embedded(embed_db=embed_db, embed_redis=embed_redis)
        if self.need_database and not embed_db:
            self.database_url = str(self.settings.database_url)
            connect(self.database_url).close()
        if self.need_redis and not embed_redis:
            self.redis_url = str(self.settings.redis_url)
            redis_client(self.redis_url).close()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Leave the embedded services; the last process to leave stops them."""
        lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            if lease.leave():
                for service in reversed(self._embedded):
                    service.stop()
        finally:
            lease.close()

    def _start_embedded(self, *, embed_db: bool, embed_redis: bool) -> None:
        directory = usable_data_dir(self.settings)
        self.account = directory.account
        self._lease = lease = ServiceLease(directory.path)
        lease.join()
        try:
            if embed_db:
                postgres = embedded_postgres(directory)
                self._embedded.append(postgres)
                self.database_url = self._ensure(postgres, "PostgreSQL", postgres.directory)
            if embed_redis:
                redis = embedded_redis(directory)
                self._embedded.append(redis)
                self.redis_url = self._ensure(redis, "Redis", redis.directory)
        except BaseException:
            self.close()
            raise
        lease.joined()

    def _ensure(self, service: EmbeddedRedis | EmbeddedPostgres, name: str, where: Path) -> str:
        running = service.answers() if isinstance(service, EmbeddedRedis) else service.running()
        if not running:
            self.say(f"starting embedded {name} in {where}")
        return service.ensure_running()
