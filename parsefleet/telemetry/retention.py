"""``parsefleet db retention --keep 72h``: drop measurements older than the window.

Three ways, chosen by what the database has: TimescaleDB's community build keeps a retention
policy per hypertable (``add_retention_policy``); the Apache-licensed build refuses policies, so
old chunks are dropped now with ``drop_chunks``; plain PostgreSQL deletes old rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg

from parsefleet.contract.errors import ConfigError
from parsefleet.plumbing.database import sql

__all__ = ["MEASUREMENT_TABLES", "Retention", "apply_retention", "parse_window"]

MEASUREMENT_TABLES = ("batch_metrics", "parse_failures", "cli_runs", "fleet_samples")
_HERE = Path(__file__).parent
_UNITS_S = {"m": 60, "h": 3600, "d": 86400}
_WINDOW = re.compile(r"^(\d+)([mhd])$")


@dataclass(frozen=True)
class Retention:
    """What one application of the retention did, per table."""

    method: str  # policy | drop_chunks | delete
    removed: dict[str, int]  # chunks dropped or rows deleted (policies: 0, they act in the background)


def parse_window(text: str) -> timedelta:
    """``90m``, ``72h`` or ``3d`` as a timedelta; ConfigError otherwise."""
    match = _WINDOW.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(f"--keep must look like 90m, 72h or 3d, got {text!r}")
    return timedelta(seconds=int(match.group(1)) * _UNITS_S[match.group(2)])


def apply_retention(conn: psycopg.Connection[tuple[object, ...]], keep: timedelta) -> Retention:
    """Apply the retention window to every measurement table."""
    row = conn.execute(sql(_HERE, "timescaledb_license")).fetchone()
    license_name = None if row is None or row[0] is None else str(row[0])
    if license_name == "timescale":
        for table in MEASUREMENT_TABLES:
            conn.execute("SELECT add_retention_policy(%s, %s, if_not_exists => true)", (table, keep))
        return Retention("policy", dict.fromkeys(MEASUREMENT_TABLES, 0))
    removed: dict[str, int] = {}
    for table in MEASUREMENT_TABLES:
        if license_name is not None:
            dropped = conn.execute("SELECT drop_chunks(%s, older_than => now() - %s)", (table, keep)).fetchall()
            removed[table] = len(dropped)
        else:
            query = psycopg.sql.SQL("DELETE FROM {} WHERE time < now() - %s").format(psycopg.sql.Identifier(table))
            removed[table] = conn.execute(query, (keep,)).rowcount
    return Retention("delete" if license_name is None else "drop_chunks", removed)
