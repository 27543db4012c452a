"""The run report: per language, files seen, parsed, skipped (why), failed (why), cancelled,
symbols, throughput and batch latency; which files were partial or failed. Computed in SQL from the
stored facts, so any run can be reported.

Every file seen ends in one column: ``seen = parsed + skipped + failed + cancelled``. A language's
files/min is over its own busy time (its first batch started to its last finished); the total
row's is over the whole run (the run started to its last batch finished).
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
from parsefleet.contract.repository_run import RepositoryRun
from parsefleet.plumbing.database import sql

__all__ = [
    "FILE_STATUSES",
    "FileOutcome",
    "LanguageReport",
    "RepositoryReport",
    "RepositoryState",
    "RunReport",
    "RunState",
    "Totals",
    "load_files",
    "load_report",
    "load_repositories",
    "load_state",
    "recent_runs",
    "render",
    "render_files",
    "render_repositories",
]

# What ``parsefleet report --files`` can list.
FILE_STATUSES = ("partial", "fallback", "failed")

_HERE = Path(__file__).parent
_TITLE_TARGETS = 3  # targets named in the title line; the rest counted
Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class RunState:
    """How far a run has got."""

    run_id: str
    targets: list[str]
    started_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None
    batches_total: int | None
    batches_done: int
    files_done: int

    @property
    def finished(self) -> bool:
        """True when every batch of a submitted run has a result (cancelled ones included)."""
        return self.finished_at is not None

    @property
    def status(self) -> str:
        """running, finished or cancelled."""
        if self.cancelled_at is not None:
            return "cancelled"
        return "finished" if self.finished else "running"


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
    cancelled: int
    symbols: int
    elapsed_s: float | None
    busy_s: float | None
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
        """Files the workers finished per minute of this language's own busy time."""
        if not self.done or not self.busy_s:
            return None
        return self.done / self.busy_s * 60

    @property
    def accounted(self) -> bool:
        """True when every seen file is parsed, skipped, failed or cancelled."""
        return self.seen == self.parsed + self.skipped_total + self.failed + self.cancelled


@dataclass(frozen=True)
class RepositoryReport(RepositoryRun):
    """What a run did to one repository, with the repository's name."""

    name: str = ""

    def render(self) -> str:
        """One line (two with a note) for a terminal."""
        at = "as it is" if self.commit_id is None else f"at {self.commit_id[:12]}"
        line = (
            f"  repository {paths.printable(self.name)} {at} ({self.mode}): {self.added} added,"
            f" {self.modified} modified, {self.deleted} deleted, {self.renamed} renamed;"
            f" {self.sent} blobs sent, {self.known} already known"
        )
        return line if self.note is None else f"{line}\n    {paths.printable(self.note)}"


@dataclass
class RunReport:
    """The whole report of one run."""

    state: RunState
    languages: list[LanguageReport]
    failed_files: list[tuple[str, str, str, str]]  # (language, kind, path, message)
    failed_targets: list[tuple[str, str, str]] = field(default_factory=list)  # (origin, target, error)
    indexed: list[RepositoryReport] = field(default_factory=list)

    @property
    def parsed(self) -> int:
        """Files parsed in this run, all languages."""
        return sum(item.parsed for item in self.languages)

    @property
    def total(self) -> Totals:
        """Every language together; files/min over the whole run."""
        return Totals.of(self.languages)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (numbers as numbers; paths exact)."""
        return {
            "run_id": self.state.run_id,
            "status": self.state.status,
            "finished": self.state.finished,
            "repositories": list(self.state.targets),
            "languages": [
                {**asdict(item), "files_per_min": item.files_per_min, "skipped_total": item.skipped_total}
                for item in self.languages
            ],
            "total": asdict(self.total),
            "failed_files": [
                dict(zip(("language", "kind", "path", "message"), row, strict=True)) for row in self.failed_files
            ],
            "failed_targets": [
                dict(zip(("origin", "target", "error"), row, strict=True)) for row in self.failed_targets
            ],
            "indexed": [asdict(item) for item in self.indexed],
        }


@dataclass(frozen=True)
class Totals:
    """The report's total row."""

    seen: int
    parsed: int
    skipped: int
    failed: int
    cancelled: int
    symbols: int
    files_per_min: float | None

    @classmethod
    def of(cls, languages: list[LanguageReport]) -> Totals:
        """Sum the languages; the rate is files done over the run's elapsed time."""
        done = sum(item.done for item in languages)
        elapsed = max((item.elapsed_s or 0.0 for item in languages), default=0.0)
        rate = done / elapsed * 60 if done and elapsed else None
        return cls(
            sum(item.seen for item in languages), sum(item.parsed for item in languages),
            sum(item.skipped_total for item in languages), sum(item.failed for item in languages),
            sum(item.cancelled for item in languages), sum(item.symbols for item in languages), rate,
        )  # fmt: skip


@dataclass(frozen=True)
class RepositoryState:
    """One target of a run (``parsefleet report --repositories``): pending, listing (read in part),
    failed, sending or done; files listed, sent in batches, and done (their batch has a result), and
    the source bytes sent and done."""

    ordinal: int
    target: str
    origin: str
    state: str
    files: int
    sent: int
    done: int
    bytes_sent: int
    bytes_done: int
    error: str | None


@dataclass(frozen=True)
class FileOutcome:
    """A file of a run whose outline is partial, a fallback, or failed."""

    language: str
    status: str
    kind: str
    repository: str
    path: str


def load_state(conn: Connection, run_id: str | None) -> RunState:
    """The state of ``run_id`` (None: the latest run)."""
    with conn.cursor(row_factory=class_row(RunState)) as cursor:
        state = cursor.execute(sql(_HERE, "run_states"), {"run_id": run_id, "limit": 1}).fetchone()
    conn.commit()
    if state is None:
        raise RunNotFound(f"no run {run_id}" if run_id else "no run has been submitted yet")
    return state


def recent_runs(conn: Connection, limit: int) -> list[RunState]:
    """The latest runs, newest first."""
    with conn.cursor(row_factory=class_row(RunState)) as cursor:
        states = cursor.execute(sql(_HERE, "run_states"), {"run_id": None, "limit": limit}).fetchall()
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
    failed_targets = [(str(a), str(b), str(c)) for a, b, c in conn.execute(sql(_HERE, "report_targets"), params)]
    with conn.cursor(row_factory=class_row(RepositoryReport)) as cursor:
        indexed = cursor.execute(sql(_HERE, "report_repositories"), params).fetchall()
    conn.commit()
    return RunReport(state, languages, failed_files, failed_targets, indexed)


def load_repositories(conn: Connection, run_id: str) -> list[RepositoryState]:
    """The targets of ``run_id`` with their states, in the order given."""
    with conn.cursor(row_factory=class_row(RepositoryState)) as cursor:
        found = cursor.execute(sql(_HERE, "report_target_states"), {"run_id": run_id}).fetchall()
    conn.commit()
    return found


def render_repositories(found: list[RepositoryState]) -> str:
    """``parsefleet report --repositories``: one line a target, then the count per state."""
    lines = [f"{'#':>6} {'state':<8}{'files':>8}{'sent':>8}{'done':>8}{'KB sent':>10}{'KB done':>10}  target"]
    for item in found:
        note = f"  ({paths.printable(item.error)})" if item.error else ""
        lines.append(
            f"{item.ordinal:>6} {item.state:<8}{item.files:>8}{item.sent:>8}{item.done:>8}"
            f"{item.bytes_sent / 1024:>10.1f}{item.bytes_done / 1024:>10.1f}  {paths.printable(item.target)}{note}"
        )
    states: dict[str, int] = defaultdict(int)
    for item in found:
        states[item.state] += 1
    lines.append("targets: " + ", ".join(f"{state} {count}" for state, count in sorted(states.items())))
    sent, done = sum(item.bytes_sent for item in found), sum(item.bytes_done for item in found)
    lines.append(f"source: {done / 1e6:.1f} of {sent / 1e6:.1f} MB sent done")
    return "\n".join(lines)


def load_files(conn: Connection, run_id: str, statuses: tuple[str, ...]) -> list[FileOutcome]:
    """The files of ``run_id`` whose outline has one of ``statuses`` (see FILE_STATUSES)."""
    from parsefleet.contract.languages import LANGUAGES
    from parsefleet.contract.versions import parser_version

    params = {
        "run_id": run_id,
        "statuses": list(statuses),
        "parser_versions": [parser_version(language) for language in LANGUAGES],
    }
    with conn.cursor(row_factory=class_row(FileOutcome)) as cursor:
        found = cursor.execute(sql(_HERE, "report_files"), params).fetchall()
    conn.commit()
    return found


_COLUMNS: tuple[tuple[str, int], ...] = (
    ("seen", 7), ("parsed", 8), ("skipped", 9), ("failed", 8), ("cancelled", 11), ("symbols", 9),
    ("files/min", 11), ("p50 ms", 9), ("p95 ms", 9),
)  # fmt: skip
_STATUS_NOTES = {
    "partial": "tree-sitter found syntax errors; the rest is outlined",
    "fallback": "CPython's ast outline used where tree-sitter failed",
}


def render(report: RunReport, *, max_failures: int = 20) -> str:
    """The report as text for a terminal."""
    lines = [_title(report.state), "language " + "".join(f"{n:>{w}}" for n, w in _COLUMNS)]
    for item in report.languages:
        cells = (
            item.seen, item.parsed, item.skipped_total, item.failed, item.cancelled, item.symbols,
            _num(item.files_per_min, ".0f"), _num(item.p50_ms, ".1f"), _num(item.p95_ms, ".1f"),
        )  # fmt: skip
        lines.append(_row(item.language, cells))
    if len(report.languages) > 1:
        total = report.total
        cells = (total.seen, total.parsed, total.skipped, total.failed, total.cancelled, total.symbols,
                 _num(total.files_per_min, ".0f"), "", "")  # fmt: skip
        lines.append(_row("total", cells))
    lines.append("  files/min: per language over its own busy time; total over the whole run")
    lines.extend(_detail_lines(report))
    lines.extend(item.render() for item in report.indexed)
    shown = report.failed_files[:max_failures]
    lines.extend(
        f"  failed {kind}: {paths.shown(path)}: {paths.printable(message)}" for _lang, kind, path, message in shown
    )
    if len(report.failed_files) > max_failures:
        lines.append(f"  … and {len(report.failed_files) - max_failures} more (parsefleet report --files failed)")
    lines.extend(_target_lines(report, max_failures))
    if report.parsed == 0 and report.state.finished and not report.state.cancelled_at:
        lines.append("nothing to parse: every file is unchanged since an earlier run (or skipped)")
    return "\n".join(lines)


def render_files(found: list[FileOutcome]) -> str:
    """``parsefleet report --files``: one line a file."""
    if not found:
        return "no such file in this run"
    lines = []
    for item in found:
        what = f"{item.status} {item.kind}".strip()
        lines.append(f"{item.language:<7} {what:<18} {paths.printable(item.repository)}/{paths.shown(item.path)}")
    return "\n".join(lines)


def _target_lines(report: RunReport, max_failures: int) -> list[str]:
    failed = report.failed_targets
    if not failed:
        return []
    lines = [f"  failed targets: {len(failed)} of {len(report.state.targets)}"]
    lines.extend(f"    {origin}: {paths.printable(error)}" for origin, _target, error in failed[:max_failures])
    if len(failed) > max_failures:
        lines.append(f"    … and {len(failed) - max_failures} more (parsefleet report --json)")
    return lines


def _title(state: RunState) -> str:
    status = {"running": " (not finished)", "cancelled": " (cancelled)"}.get(state.status, "")
    names = ", ".join(paths.printable(target) for target in state.targets[:_TITLE_TARGETS])
    if len(state.targets) > _TITLE_TARGETS:
        names += f" and {len(state.targets) - _TITLE_TARGETS} more"
    return f"run {state.run_id}{status}: {names}"


def _row(label: str, cells: tuple[object, ...]) -> str:
    return f"{label:<9}" + "".join(f"{c:>{w}}" for c, (_n, w) in zip(cells, _COLUMNS, strict=True))


def _detail_lines(report: RunReport) -> list[str]:
    """Skip reasons, failure kinds and parse statuses, each on a labelled line; zero counts left out."""
    groups = {
        "skipped": {item.language: dict(item.skipped) for item in report.languages},
        "failed": {item.language: dict(item.failures) for item in report.languages},
        "parsed with notes": {
            item.language: {"partial": item.partial, "fallback": item.fallback} for item in report.languages
        },
    }
    lines = []
    for label, by_language in groups.items():
        parts = [
            f"{language}: " + ", ".join(f"{name} {count}" for name, count in sorted(counts.items()) if count)
            for language, counts in by_language.items()
            if any(counts.values())
        ]
        if parts:
            lines.append(f"  {label}: " + "; ".join(parts))
    notes = {status for item in report.languages for status in ("partial", "fallback") if getattr(item, status)}
    lines.extend(
        f"    {status}: {_STATUS_NOTES[status]} (parsefleet report --files {status})" for status in sorted(notes)
    )
    return lines


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
