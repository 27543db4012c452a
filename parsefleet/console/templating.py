"""The console's pages: Jinja templates beside this module, autoescaped, and the filters they use.

Names from repositories are untrusted: ``visible`` HTML-escapes them and shows each control
character as a marked escape (``\\x1b``), so a file name cannot inject markup, hide itself or
reorder the text around it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from parsefleet.reading.escapes import CONTROL, escape_control

__all__ = ["Templates", "visible_html"]

_HERE = Path(__file__).parent
_CONTROL_HTML = Markup('<span class="control" title="control character">{}</span>')


def visible_html(value: object) -> Markup:
    """``value`` as HTML text, each control character shown as ``<span class="control">\\xNN</span>``."""
    text = "" if value is None else str(value)
    parts: list[str] = []
    last = 0
    for match in CONTROL.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(
            Markup('<span class="control" title="control character">{}</span>').format(escape_control(match.group()))
        )
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
        self.env.filters.update(visible=visible_html, number=_number, time=_time)

    def page(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """The page ``name`` rendered with ``context``."""
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status_code)
