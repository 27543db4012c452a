"""Measurements over time for the console's charts: parser_duration_ms p95 and parser failures per
language and time bucket. On TimescaleDB the buckets are ``time_bucket``'s, elsewhere
``date_trunc``'s in UTC: the same boundaries for a minute, an hour and a day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as composed

from parsefleet.plumbing.database import sql

__all__ = ["RANGES", "Chart", "Series", "load_charts", "timescaledb"]

_HERE = Path(__file__).parent
Connection = psycopg.Connection[tuple[object, ...]]
# A chart's range and its bucket: 1h by minute, 24h by hour, 7d by day.
RANGES: dict[str, tuple[timedelta, str]] = {
    "1h": (timedelta(hours=1), "minute"),
    "24h": (timedelta(hours=24), "hour"),
    "7d": (timedelta(days=7), "day"),
}


@dataclass
class Series:
    """One language's points: (bucket start, value, samples)."""

    language: str
    points: list[tuple[datetime, float, int]] = field(default_factory=list)


@dataclass
class Chart:
    """One chart: a metric per language and bucket."""

    metric: str
    unit: str
    bucket: str
    series: list[Series] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data: buckets as ISO 8601 UTC times."""
        return {
            "metric": self.metric,
            "unit": self.unit,
            "bucket": self.bucket,
            "series": [
                {
                    "language": item.language,
                    "points": [
                        {"bucket": at.isoformat(), "value": value, "samples": samples}
                        for at, value, samples in item.points
                    ],
                }
                for item in self.series
            ],
        }


def timescaledb(conn: Connection) -> bool:
    """True when the database has the TimescaleDB extension."""
    row = conn.execute(sql(_HERE, "timescaledb")).fetchone()
    conn.commit()
    return bool(row and row[0])


def load_charts(conn: Connection, window: str, now: datetime) -> list[Chart]:
    """The p95 latency and failure charts over ``window`` (a key of RANGES) up to ``now``."""
    span, unit = RANGES[window]
    flavour = "bucket_timescaledb" if timescaledb(conn) else "bucket_plain"
    params = {"since": now - span, "width": f"1 {unit}", "unit": unit}
    charts = [
        Chart("parser_duration_ms p95", "ms", unit),
        Chart(f"parser failures per {unit}", "failures", unit),
    ]
    for chart, name, column in zip(charts, ("chart_latency", "chart_failures"), ("finished_at", "time"), strict=True):
        bucket = composed.SQL(sql(_HERE, flavour).strip()).format(column=composed.Identifier(column))
        query = composed.SQL(sql(_HERE, name)).format(bucket=bucket)
        by_language: dict[str, Series] = {}
        for at, language, value, samples in conn.execute(query, params):
            series = by_language.setdefault(str(language), Series(str(language)))
            assert isinstance(at, datetime)
            series.points.append((at, float(str(value)), int(str(samples))))
        chart.series = list(by_language.values())
    conn.commit()
    return charts
