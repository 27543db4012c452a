"""``build_app``: the console's ASGI application (FastAPI on Starlette) over one Reader.

Routes: the pages (parsefleet.console.pages), the JSON API under ``/api/`` (parsefleet.console.api),
``/static/`` (the console's own scripts and styles, and the vendored Chart.js), and the OpenAPI
description at ``/api/openapi.json``; anything else is 404. FastAPI's own documentation pages are
off: they load their scripts from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from parsefleet import __version__
from parsefleet.console.access import AccessMiddleware, AccessPolicy
from parsefleet.console.api import api_router
from parsefleet.console.pages import page_router
from parsefleet.console.reader import Reader
from parsefleet.console.templating import Templates
from parsefleet.contract.errors import NotInIndex, ParsefleetError, RunNotFound, ServiceUnavailable

__all__ = ["build_app"]

_HERE = Path(__file__).parent


def build_app(reader: Reader, policy: AccessPolicy) -> AccessMiddleware:
    """The console over ``reader``, behind ``policy``."""
    app = FastAPI(
        title="parsefleet console",
        version=__version__,
        description="Read-only access to the parsefleet index: definitions, outlines, runs, the fleet.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    templates = Templates()
    app.include_router(api_router(reader))
    app.include_router(page_router(reader, templates, app.openapi))
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")

    def failure(request: Request, status: int, detail: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": detail}, status_code=status)
        return templates.page("error.html", status_code=status, title=str(status), status=status, detail=detail)

    async def not_found(request: Request, exc: Exception) -> Response:
        return failure(request, 404, str(exc))

    async def unavailable(request: Request, exc: Exception) -> Response:
        return failure(request, 503, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return failure(request, status, "not found" if status == 404 else str(getattr(exc, "detail", "error")))

    async def invalid(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        where = ", ".join(".".join(str(part) for part in error.get("loc", ())) for error in errors)
        return failure(request, 422, f"invalid parameters: {where or 'request'}")

    app.add_exception_handler(NotInIndex, not_found)
    app.add_exception_handler(RunNotFound, not_found)
    app.add_exception_handler(ServiceUnavailable, unavailable)
    app.add_exception_handler(ParsefleetError, unavailable)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    return AccessMiddleware(app, policy)
