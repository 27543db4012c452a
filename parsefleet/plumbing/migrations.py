"""``parsefleet db migrate``: apply the numbered SQL files of ``parsefleet.schema`` in order, once each.

The schema ships inside the package (the repository's ``schema/``), so an installed wheel migrates
without any path to configure.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from parsefleet.contract.errors import ConfigError, SchemaMissing
from parsefleet.plumbing.database import connect, session
from parsefleet.plumbing.redaction import shown_url

__all__ = ["SCHEMA_DIR", "check_schema", "migrate", "on_database", "pending", "scratch_database"]

log = logging.getLogger(__name__)

SCHEMA_DIR = Path(str(files("parsefleet.schema")))
_LOCK_KEY = 0x70617273  # one migrator at a time, across hosts


def on_database(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name`` (host, port, passfile kept)."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A fresh, migrated database ``<prefix>_<random>`` on the server of ``server_url``, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = on_database(server_url, "postgres")
    with connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = on_database(server_url, name)
    try:
        migrate(url)
        yield url
    finally:
        with connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pending(schema_dir: Path = SCHEMA_DIR) -> list[tuple[int, Path]]:
    """Every migration file as (version, path), in order."""
    if not schema_dir.is_dir():
        raise ConfigError(f"schema directory {schema_dir} not found: the installation is incomplete")
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


def check_schema(conn: psycopg.Connection[tuple[object, ...]], url: str, schema_dir: Path = SCHEMA_DIR) -> None:
    """Raise SchemaMissing unless every migration this release ships is applied on ``conn``'s
    database (a newer schema, from a newer release, is fine). ``conn`` is in autocommit mode."""
    needed = max((version for version, _path in pending(schema_dir)), default=0)
    try:
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    except psycopg.errors.UndefinedTable:
        raise SchemaMissing(
            f"PostgreSQL at {shown_url(url)} has no parsefleet schema; run `parsefleet db migrate`"
        ) from None
    applied = int(str(row[0])) if row is not None and row[0] is not None else 0
    if applied < needed:
        raise SchemaMissing(
            f"PostgreSQL at {shown_url(url)} has parsefleet schema version {applied}, this release needs {needed};"
            " run `parsefleet db migrate`"
        )
