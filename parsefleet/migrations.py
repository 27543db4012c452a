"""``parsefleet db migrate``: apply the numbered SQL files of ``schema/`` in order, once each."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from common.database import connect, session
from common.errors import ConfigError

__all__ = ["SCHEMA_DIR", "migrate", "pending", "scratch_database"]

log = logging.getLogger(__name__)

SCHEMA_DIR = Path(os.environ.get("PARSEFLEET_SCHEMA_DIR") or Path(__file__).resolve().parents[1] / "schema")
_LOCK_KEY = 0x70617273  # one migrator at a time, across hosts


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A fresh, migrated database ``<prefix>_<random>`` on the server of ``server_url``, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = urlunsplit(urlsplit(server_url)._replace(path="/postgres"))
    with connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    try:
        migrate(url)
        yield url
    finally:
        with connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pending(schema_dir: Path = SCHEMA_DIR) -> list[tuple[int, Path]]:
    """Every migration file as (version, path), in order."""
    if not schema_dir.is_dir():
        raise ConfigError(f"schema directory {schema_dir} not found; set PARSEFLEET_SCHEMA_DIR")
    return sorted((int(path.name.split("_", 1)[0]), path) for path in schema_dir.glob("[0-9][0-9][0-9]_*.sql"))


def migrate(database_url: str, schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Apply what is not applied yet; return the names of the files applied now."""
    applied_now: list[str] = []
    with session(database_url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {int(str(row[0])) for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, path in pending(schema_dir):
            if version in done:
                continue
            conn.execute(path.read_text())
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, path.name))
            applied_now.append(path.name)
            log.info("applied %s", path.name)
    return applied_now
