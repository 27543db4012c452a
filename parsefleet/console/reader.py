"""What the console reads, each through parsefleet.reading on a borrowed connection: the same
queries as ``parsefleet find``, ``outline``, ``report`` and ``status``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from parsefleet.console.connections import Connections
from parsefleet.contract.errors import RunNotFound
from parsefleet.plumbing.broker import redis_client
from parsefleet.reading.charts import RANGES, Chart, load_charts
from parsefleet.reading.definitions import Definition, FindQuery, find_definitions
from parsefleet.reading.fleet import FleetStatus, fleet_status
from parsefleet.reading.outlines import FileOutline, load_outline
from parsefleet.reading.report import RunReport, RunState, load_report, recent_runs
from parsefleet.reading.repositories import repositories_named, repository_named

__all__ = ["Reader", "SearchOptions"]

# Dead letters decoded for the fleet page (the count shows them all).
_DEAD_LETTERS_SHOWN = 50


@dataclass(frozen=True)
class SearchOptions:
    """A search as a page or the API asks for it."""

    text: str
    prefix: bool = True
    ignore_case: bool = True
    kind: str | None = None
    language: str | None = None
    repository: str | None = None
    limit: int = 50


class Reader:
    """The console's reads over ``connections`` and the Redis at ``redis_url``."""

    def __init__(self, connections: Connections, redis_url: str) -> None:
        self.connections = connections
        self.redis_url = redis_url
        self._redis: redis.Redis | None = None

    def find(self, options: SearchOptions) -> list[Definition]:
        """Definitions matching ``options`` (nothing for a text that cannot name one)."""
        with self.connections.borrow() as conn:
            ids = None
            if options.repository:
                ids = [item.id for item in repositories_named(conn, options.repository)]
            query = FindQuery(
                options.text,
                prefix=options.prefix,
                ignore_case=options.ignore_case,
                kind=options.kind or None,
                language=options.language or None,
                repository_ids=ids,
                limit=options.limit,
            )
            return find_definitions(conn, query)

    def outline(self, repository: str, path: str) -> FileOutline:
        """One file's outline, or NotInIndex."""
        with self.connections.borrow() as conn:
            return load_outline(conn, repository_named(conn, repository), path)

    def runs(self, limit: int) -> list[RunState]:
        """The latest runs, newest first."""
        with self.connections.borrow() as conn:
            return recent_runs(conn, limit)

    def report(self, run_id: str | None) -> RunReport:
        """A run's state and report (None: the latest run); RunNotFound for an id that is no run."""
        if run_id is not None and not _is_uuid(run_id):
            raise RunNotFound(f"no run {run_id}")
        with self.connections.borrow() as conn:
            return load_report(conn, run_id)

    def fleet(self, limit: int) -> FleetStatus:
        """What ``parsefleet status`` shows, with the first dead letters decoded."""
        if self._redis is None:
            self._redis = redis_client(self.redis_url)
        with self.connections.borrow() as conn:
            return fleet_status(self._redis, self.redis_url, conn, limit, dead_letters=_DEAD_LETTERS_SHOWN)

    def charts(self, window: str) -> list[Chart]:
        """The measurement charts over ``window`` (a key of RANGES; anything else: 24h)."""
        with self.connections.borrow() as conn:
            return load_charts(conn, window if window in RANGES else "24h", datetime.now(UTC))

    def close(self) -> None:
        """Drop the connections."""
        self.connections.close()
        if self._redis is not None:
            self._redis.close()


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
