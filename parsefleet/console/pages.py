"""The pages a person uses, rendered on the server: search (results as you type), a file's
outline, runs and their reports, the fleet, the charts, and the API's description."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from parsefleet.console.reader import Reader, SearchOptions
from parsefleet.console.templating import Templates
from parsefleet.contract.languages import LANGUAGES
from parsefleet.reading.charts import RANGES
from parsefleet.reading.definitions import KINDS

__all__ = ["page_router"]

_RESULTS_SHOWN = 50
_RUNS_SHOWN = 30


def page_router(reader: Reader, templates: Templates, openapi: Callable[[], dict[str, Any]]) -> APIRouter:
    """The HTML routes over ``reader``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def search(q: str = "", language: str = "", kind: str = "") -> HTMLResponse:
        found = _search(reader, q, language, kind)
        return templates.page(
            "search.html",
            title="Search",
            q=q,
            language=language,
            kind=kind,
            found=found,
            languages=LANGUAGES,
            kinds=KINDS,
        )

    @router.get("/search/results", response_class=HTMLResponse)
    def search_results(q: str = "", language: str = "", kind: str = "") -> HTMLResponse:
        return templates.page("_results.html", q=q, found=_search(reader, q, language, kind))

    @router.get("/outline", response_class=HTMLResponse)
    def outline(repository: str = "", path: str = "") -> HTMLResponse:
        found = reader.outline(repository, path)
        return templates.page("outline.html", title=found.path, outline=found, tree=found.children())

    @router.get("/runs", response_class=HTMLResponse)
    def runs() -> HTMLResponse:
        return templates.page("runs.html", title="Runs", runs=reader.runs(_RUNS_SHOWN))

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(run_id: str) -> HTMLResponse:
        report = reader.report(None if run_id == "latest" else run_id)
        return templates.page("run.html", title=f"Run {report.state.run_id}", report=report)

    @router.get("/runs/{run_id}/progress", response_class=HTMLResponse)
    def run_progress(run_id: str) -> HTMLResponse:
        return templates.page("_run.html", report=reader.report(run_id))

    @router.get("/fleet", response_class=HTMLResponse)
    def fleet() -> HTMLResponse:
        return templates.page("fleet.html", title="Fleet", fleet=reader.fleet(10))

    @router.get("/charts", response_class=HTMLResponse)
    def charts(window: str = "24h") -> HTMLResponse:
        window = window if window in RANGES else "24h"
        found = [chart.as_dict() for chart in reader.charts(window)]
        return templates.page("charts.html", title="Charts", window=window, windows=list(RANGES), charts=found)

    @router.get("/api-docs", response_class=HTMLResponse)
    def api_docs() -> HTMLResponse:
        return templates.page("api_docs.html", title="API", spec=openapi())

    return router


def _search(reader: Reader, text: str, language: str, kind: str) -> list[Any]:
    options = SearchOptions(text, language=language or None, kind=kind or None, limit=_RESULTS_SHOWN)
    return reader.find(options)
