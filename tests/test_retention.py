"""Retention on plain PostgreSQL (row deletes) and on TimescaleDB's Apache build (drop_chunks)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from parsefleet.contract.errors import ConfigError
from parsefleet.telemetry.retention import apply_retention, parse_window


def test_window_parsing() -> None:
    assert parse_window("72h") == timedelta(hours=72)
    assert parse_window("3d") == timedelta(days=3)
    assert parse_window("90m") == timedelta(minutes=90)
    for bad in ("72", "0h", "h", "1w", "-3d"):
        with pytest.raises(ConfigError):
            parse_window(bad)


def _seed(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    for age_h in (200, 100, 1):
        conn.execute(
            "INSERT INTO batch_metrics (time, run_id, batch_id, language, worker, files, size_bytes, duration_ms)"
            " VALUES (now() - %s * interval '1 hour', gen_random_uuid(), %s, 'python', 'w', 1, 1, 1.0)",
            (age_h, f"b{age_h}"),
        )
    conn.commit()


@pytest.mark.service
def test_plain_postgres_deletes_old_rows(clean_db: str) -> None:
    with psycopg.connect(clean_db) as conn:
        _seed(conn)
        done = apply_retention(conn, timedelta(hours=72))
        conn.commit()
        left = conn.execute("SELECT batch_id FROM batch_metrics ORDER BY batch_id").fetchall()
    assert done.method == "delete" and done.removed["batch_metrics"] == 2
    assert left == [("b1",)]


@pytest.mark.service
def test_timescaledb_apache_build_drops_old_chunks(tsdb_url: str) -> None:
    with psycopg.connect(tsdb_url) as conn:
        _seed(conn)
        done = apply_retention(conn, timedelta(hours=72))
        conn.commit()
        left = conn.execute("SELECT batch_id FROM batch_metrics ORDER BY batch_id").fetchall()
    assert done.method == "drop_chunks" and done.removed["batch_metrics"] >= 1
    assert left == [("b1",)]
