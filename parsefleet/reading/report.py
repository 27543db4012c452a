"""The run report: per language, files seen, parsed, skipped (why), failed (why), symbols,
throughput and batch latency. Computed in SQL from the stored facts, so any run can be reported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

from parsefleet.contract import paths
from parsefleet.contract.errors import RunNotFound
from parsefleet.plumbing.database import sql

__all__ = ["LanguageReport", "RunReport", "RunState", "load_report", "load_state", "recent_runs", "render"]

_HERE = Path(__file__).parent
Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class RunState:
    """How far a run has got."""

    run_id: str
    started_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    batches_total: int | None
    batches_done: int
    files_done: int

    @property
    def finished(self) -> bool:
        """True when every batch of a submitted run has a result."""
        return self.finished_at is not None


@dataclass
class LanguageReport:
    """One language's line of the report."""

    language: str
    seen: int
    sent: int
    done: int
    parsed: int
    partial: int
    fallback: int
    failed: int
    symbols: int
    elapsed_s: float | None
    p50_ms: float | None
    p95_ms: float | None
    skipped: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        """Files skipped, all reasons."""
        return sum(self.skipped.values())

    @property
    def files_per_min(self) -> float | None:
        """Files the workers finished per minute of the run."""
        if not self.done or not self.elapsed_s:
            return None
        return self.done / self.elapsed_s * 60

    @property
    def accounted(self) -> bool:
        """True when every seen file is parsed, skipped or failed."""
        return self.seen == self.parsed + self.skipped_total + self.failed


@dataclass
class RunReport:
    """The whole report of one run."""

    state: RunState
    languages: list[LanguageReport]
    failed_files: list[tuple[str, str, str, str]]  # (language, kind, path, message)

    @property
    def parsed(self) -> int:
        """Files parsed in this run, all languages."""
        return sum(item.parsed for item in self.languages)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "run_id": self.state.run_id,
            "finished": self.state.finished,
            "languages": [
                {**asdict(item), "files_per_min": item.files_per_min, "skipped_total": item.skipped_total}
                for item in self.languages
            ],
            "failed_files": [
                dict(zip(("language", "kind", "path", "message"), row, strict=True)) for row in self.failed_files
            ],
        }


def load_state(conn: Connection, run_id: str | None) -> RunState:
    """The state of ``run_id`` (None: the latest run)."""
    with conn.cursor(row_factory=class_row(RunState)) as cursor:
        state = cursor.execute(sql(_HERE, "run_state"), {"run_id": run_id}).fetchone()
    conn.commit()
    if state is None:
        raise RunNotFound(f"no run {run_id}" if run_id else "no run has been submitted yet")
    return state


def recent_runs(conn: Connection, limit: int) -> list[RunState]:
    """The latest runs, newest first."""
    with conn.cursor(row_factory=class_row(RunState)) as cursor:
        states = cursor.execute(sql(_HERE, "recent_runs"), {"limit": limit}).fetchall()
    conn.commit()
    return states


def load_report(conn: Connection, run_id: str | None) -> RunReport:
    """Compute the report of ``run_id`` (None: the latest run)."""
    state = load_state(conn, run_id)
    params = {"run_id": state.run_id}
    with conn.cursor(row_factory=dict_row) as cursor:
        languages = [LanguageReport(**row) for row in cursor.execute(sql(_HERE, "report_languages"), params)]
    by_language = {item.language: item for item in languages}
    for language, reason, files in conn.execute(sql(_HERE, "report_skips"), params):
        by_language[str(language)].skipped[str(reason)] = int(str(files))
    failed_files = [
        (str(a), str(b), str(c), str(d)) for a, b, c, d in conn.execute(sql(_HERE, "report_failures"), params)
    ]
    kinds: dict[str, dict[str, int]] = defaultdict(dict)
    for language, kind, _path, _message in failed_files:
        kinds[language][kind] = kinds[language].get(kind, 0) + 1
    for item in languages:
        item.failures = kinds.get(item.language, {})
    conn.commit()
    return RunReport(state, languages, failed_files)


_COLUMNS: tuple[tuple[str, int], ...] = (
    ("seen", 7), ("parsed", 8), ("skipped", 9), ("failed", 8), ("symbols", 9),
    ("files/min", 11), ("p50 ms", 9), ("p95 ms", 9),
)  # fmt: skip


def render(report: RunReport, *, max_failures: int = 20) -> str:
    """The report as text for a terminal."""
    finished = "" if report.state.finished else " (not finished)"
    lines = [f"run {report.state.run_id}{finished}", "language " + "".join(f"{n:>{w}}" for n, w in _COLUMNS)]
    for item in report.languages:
        cells = (
            item.seen, item.parsed, item.skipped_total, item.failed, item.symbols,
            _num(item.files_per_min, ".0f"), _num(item.p50_ms, ".1f"), _num(item.p95_ms, ".1f"),
        )  # fmt: skip
        lines.append(f"{item.language:<9}" + "".join(f"{c:>{w}}" for c, (_n, w) in zip(cells, _COLUMNS, strict=True)))
    lines.extend(_detail_lines(report))
    shown = report.failed_files[:max_failures]
    lines.extend(
        f"  failed {kind}: {paths.shown(path)}: {paths.printable(message)}" for _lang, kind, path, message in shown
    )
    if len(report.failed_files) > max_failures:
        lines.append(f"  … and {len(report.failed_files) - max_failures} more (parsefleet report --json)")
    if report.parsed == 0 and report.state.finished:
        lines.append("nothing to parse: every file is unchanged since an earlier run (or skipped)")
    return "\n".join(lines)


def _detail_lines(report: RunReport) -> list[str]:
    lines = []
    for item in report.languages:
        notes = [f"{reason} {count}" for reason, count in sorted(item.skipped.items())]
        notes += [f"failed {kind} {count}" for kind, count in sorted(item.failures.items())]
        if item.partial or item.fallback:
            notes.append(f"partial {item.partial}, fallback {item.fallback}")
        if notes:
            lines.append(f"  {item.language}: " + ", ".join(notes))
    return lines


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
