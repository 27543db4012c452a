"""Every SQL query of the operations dashboard (infra/grafana/operations.json) runs, with Grafana's
macros expanded, on plain PostgreSQL and on a real TimescaleDB, and returns the figures of the rows
it reads."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from parsefleet.plumbing.fleet import Backlog, Sample, record_sample

pytestmark = pytest.mark.service

DASHBOARD = Path(__file__).resolve().parents[1] / "infra" / "grafana" / "operations.json"
_TIME_FILTER = re.compile(r"\$__timeFilter\(([\w.]+)\)")


def _queries() -> dict[str, str]:
    """Panel title -> its SQL with $__timeFilter(col) as Grafana expands it for the last 6 hours."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    found = {}
    for panel in panels:
        (target,) = panel["targets"]
        found[panel["title"]] = _TIME_FILTER.sub(r"\1 BETWEEN now() - interval '6 hours' AND now()", target["rawSql"])
    return found


def _fill(url: str) -> None:
    """Two fleet samples (the fleet's own writer) and one run of two batches, 200 KB in all."""
    now = time.time()
    queues = {
        "python": Backlog(4, 400_000, now - 30, 0, 6, 600_000),
        "go": Backlog(0, 0, None, 0, 0, 0),
        "rust": Backlog(0, 0, None, 0, 0, 0),
    }
    run_id = str(uuid.uuid4())
    with psycopg.connect(url) as conn:
        record_sample(conn, Sample(3, 1, False, 2, queues), now - 120)
        record_sample(conn, Sample(2, 0, True, 1, queues), now - 5)
        conn.execute("INSERT INTO runs (id, targets) VALUES (%s, '{x}')", (run_id,))
        for index, (language, size) in enumerate((("python", 150_000), ("go", 50_000))):
            batch_id = f"b{index}-{run_id}"
            conn.execute(
                "INSERT INTO batches (id, run_id, language, files, size_bytes, enqueued_at)"
                " VALUES (%s, %s, %s, 1, %s, now())",
                (batch_id, run_id, language, size),
            )
            conn.execute(
                "INSERT INTO batch_results (batch_id, run_id, language, files, parsed, partial, fallback, failed,"
                " symbols, duration_ms, worker, finished_at) VALUES (%s, %s, %s, 1, 1, 0, 0, 0, 3, %s, 'w',"
                " now() - interval '10 seconds')",
                (batch_id, run_id, language, 40.0 + index),
            )


def _check(url: str) -> None:
    _fill(url)
    queries = _queries()
    assert len(queries) == 6
    with psycopg.connect(url) as conn:
        results = {title: conn.execute(text.encode()).fetchall() for title, text in queries.items()}
    assert all(rows for rows in results.values()), {title: rows for title, rows in results.items() if not rows}
    waiting = {row[1]: row[2] for row in results["Queue bytes waiting by language"]}
    assert waiting == {"python": 400_000, "go": 0, "rust": 0}
    workers = results["Workers alive, stalled and advised"]
    assert max(row[1] for row in workers) == 3 and max(row[2] for row in workers) == 1
    throughput = {row[1]: float(row[2]) for row in results["Throughput by language (source bytes per second)"]}
    assert throughput == {"python": 2_500.0, "go": 50_000 / 60}
    p95 = {row[1]: row[2] for row in results["Batch latency p95 by language (parser_duration_ms)"]}
    assert p95 == {"python": 40.0, "go": 41.0}
    (stalls,) = results["Stalled workers and pauses over the range"]
    assert stalls[0] == 1 and stalls[1] >= 1 and stalls[2] >= 1


def test_operations_dashboard_queries_on_plain_postgresql(clean_db: str) -> None:
    _check(clean_db)


def test_operations_dashboard_queries_on_timescaledb(tsdb_url: str) -> None:
    from parsefleet.plumbing.migrations import migrate

    migrate(tsdb_url)
    with psycopg.connect(tsdb_url) as conn:
        hypertables = {
            row[0] for row in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
        }
    assert "fleet_samples" in hypertables
    _check(tsdb_url)
