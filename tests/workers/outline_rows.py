"""Shared helpers of the adapter tests: outline a snippet, flatten an outline into rows."""

from __future__ import annotations

from parsefleet.contract.outline import ImportOrigin, Outline, SymbolKind, Visibility
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.limits import ParseBudget

Row = tuple[SymbolKind, str, int, str | None, Visibility]
ImportRow = tuple[str, str | None, str | None, ImportOrigin, int]


def outline_of(language: str, source: bytes) -> Outline:
    """Outline ``source`` with the adapter of ``language``."""
    return adapter_for(language).outline(source, ParseBudget(timeout_s=10))


def rows(result: Outline) -> list[Row]:
    """(kind, qualified name, start line, parent's qualified name, visibility) per symbol."""
    names = [symbol.qualified_name for symbol in result.symbols]
    return [
        (s.kind, s.qualified_name, s.start_line, None if s.parent is None else names[s.parent], s.visibility)
        for s in result.symbols
    ]


def imports(result: Outline) -> list[ImportRow]:
    """(module, name, alias, origin, line) per import."""
    return [(i.module, i.name, i.alias, i.origin, i.line) for i in result.imports]
