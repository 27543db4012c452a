"""The console's pages: Jinja templates beside this module, autoescaped, and the filters they use.

Names from repositories are untrusted: ``path`` (a stored file name, parsefleet.contract.paths) and
``visible`` (any other text) HTML-escape them and show each character that is not printable as a
marked escape (``\\x1b``, ``\\u202e``), so a file name cannot inject markup, hide itself or reorder
the text around it.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from parsefleet.contract.paths import printable, shown

__all__ = ["Templates", "path_html", "visible_html"]

_HERE = Path(__file__).parent
_CONTROL_HTML = Markup('<span class="control" title="not a printable character">{}</span>')
# The escapes printable() writes: a doubled backslash (a backslash in the name) is left unmarked.
_ESCAPE = re.compile(r"\\\\|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\U[0-9a-f]{8}")


def visible_html(value: object) -> Markup:
    """Text as HTML, each character that is not printable shown as ``<span class="control">\\xNN</span>``."""
    return _marked(printable("" if value is None else str(value)))


def path_html(value: object) -> Markup:
    """A stored file name (``paths.to_text``) as HTML, marked as ``visible_html`` marks text."""
    return _marked(shown("" if value is None else str(value)))


def _marked(text: str) -> Markup:
    parts: list[str] = []
    last = 0
    for match in _ESCAPE.finditer(text):
        parts.append(escape(text[last : match.end() if match.group() == "\\\\" else match.start()]))
        if match.group() != "\\\\":
            parts.append(_CONTROL_HTML.format(match.group()))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def _number(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S %Z")


class Templates:
    """Renders the pages of templates/."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(_HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(visible=visible_html, path=path_html, number=_number, time=_time)

    def page(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """The page ``name`` rendered with ``context``."""
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status_code)
