"""The JSON API under ``/api/``: everything the CLI reads (find, outline, runs, report, status) and
the charts' figures. Described by OpenAPI at ``/api/openapi.json`` and on the page ``/api-docs``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from parsefleet.console.reader import Reader, SearchOptions
from parsefleet.reading.fleet import state_dict

__all__ = ["api_router"]


def api_router(reader: Reader) -> APIRouter:
    """The ``/api`` routes over ``reader``."""
    router = APIRouter(prefix="/api", tags=["api"])

    @router.get("/find", summary="Definitions by name or qualified name (as `parsefleet find --json`)")
    def find(
        *,
        q: str = Query("", description="a name or qualified name: Class.method, (*T).M, Type::m"),
        prefix: bool = Query(False, description="names starting with q"),
        ignore_case: bool = Query(False, description="compare without case"),
        kind: str | None = Query(None, description="only this kind (class, function, method, ...)"),
        language: str | None = Query(None, description="python, go or rust"),
        repository: str | None = Query(None, description="a repository's root or last component"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        options = SearchOptions(q, prefix, ignore_case, kind, language, repository, limit)
        return [item.as_dict() for item in reader.find(options)]

    @router.get("/outline", summary="A file's definitions (flat and as a tree) and its imports")
    def outline(
        repository: str = Query(description="a repository's root or last component"),
        path: str = Query(description="the file's path in the repository"),
    ) -> dict[str, Any]:
        return reader.outline(repository, path).as_dict()

    @router.get("/runs", summary="The latest runs and how far each has got")
    def runs(limit: int = Query(20, ge=1, le=500)) -> list[dict[str, object]]:
        return [state_dict(state) for state in reader.runs(limit)]

    @router.get("/runs/{run_id}", summary="A run's progress and report (`latest` for the latest run)")
    def run(run_id: str) -> dict[str, Any]:
        report = reader.report(None if run_id == "latest" else run_id)
        return {**report.as_dict(), "progress": _progress(report.state, report.as_dict())}

    @router.get("/status", summary="Queues, batches in flight, dead letters, latest runs (`parsefleet status`)")
    def status(limit: int = Query(5, ge=1, le=500)) -> dict[str, Any]:
        fleet = reader.fleet(limit)
        return {**fleet.as_dict(), "dead_letters": [entry.as_dict() for entry in fleet.dead_letters]}

    @router.get("/charts", summary="parser_duration_ms p95 and failures per language and time bucket")
    def charts(window: str = Query("24h", pattern="^(1h|24h|7d)$")) -> list[dict[str, Any]]:
        return [chart.as_dict() for chart in reader.charts(window)]

    return router


def _progress(state: Any, report: dict[str, Any]) -> dict[str, Any]:
    sent = sum(int(item["sent"]) for item in report["languages"])
    return {
        "files_done": state.files_done,
        "files_sent": sent,
        "batches_done": state.batches_done,
        "batches_total": state.batches_total,
        "submitted": state.submitted_at is not None,
        "finished": state.finished,
    }
