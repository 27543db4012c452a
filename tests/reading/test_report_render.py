"""The run report as a person reads it: columns, the total row, grouped details, escaped names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parsefleet.reading.report import LanguageReport, RunReport, RunState, render

_AT = datetime(2026, 12, 1, tzinfo=UTC)


def _language(name: str, **counts: object) -> LanguageReport:
    values: dict[str, Any] = {
        "language": name, "seen": 0, "sent": 0, "done": 0, "parsed": 0, "partial": 0, "fallback": 0,
        "failed": 0, "cancelled": 0, "symbols": 0, "elapsed_s": None, "busy_s": None, "p50_ms": None,
        "p95_ms": None,
    }  # fmt: skip
    values.update(counts)
    return LanguageReport(**values)


def _report(*languages: LanguageReport, failed: list[tuple[str, str, str, str]] | None = None) -> RunReport:
    state = RunState("run-1", ["/src/a", "/src/b"], _AT, _AT, _AT, None, 2, 2, 10)
    return RunReport(state, list(languages), failed or [])


def test_a_language_rate_is_over_its_own_busy_time_and_the_total_over_the_run() -> None:
    go = _language("go", seen=600, sent=600, done=600, parsed=600, elapsed_s=60.0, busy_s=30.0)
    python = _language("python", seen=4, sent=4, done=4, parsed=4, elapsed_s=50.0, busy_s=0.5)
    report = _report(go, python)
    assert go.files_per_min == 1200 and python.files_per_min == 480
    assert report.total.files_per_min == 604  # 604 files over the run's 60 s
    text = render(report)
    assert "total" in text and "per language over its own busy time; total over the whole run" in text
    assert text.splitlines()[0] == "run run-1: /src/a, /src/b"


def test_details_are_grouped_by_what_they_are_and_zero_counts_are_left_out() -> None:
    go = _language("go", seen=3, parsed=2, failed=1, skipped={"vendored": 634, "unchanged": 0}, failures={"timeout": 1})
    python = _language("python", seen=5, parsed=5, partial=1, fallback=0)
    lines = render(_report(go, python)).splitlines()
    assert "  skipped: go: vendored 634" in lines
    assert "  failed: go: timeout 1" in lines
    assert "  parsed with notes: python: partial 1" in lines
    assert not any("fallback 0" in line or "unchanged 0" in line for line in lines)
    assert any(line.strip().startswith("partial: tree-sitter found syntax errors") for line in lines)


def test_control_characters_in_a_failed_path_cannot_forge_report_lines() -> None:
    forged = "x.py\r\x1b[2Kfailed timeout: /etc/shadow"
    report = _report(_language("python", seen=1, failed=1), failed=[("python", "memory", forged, "too big")])
    text = render(report)
    assert "\r" not in text and "\x1b" not in text
    assert [line for line in text.splitlines() if line.startswith("  failed memory:")] == [
        "  failed memory: x.py\\x0d\\x1b[2Kfailed timeout: /etc/shadow: too big"
    ]
