"""``parsefleet find``: definitions by name or qualified name, in each repository's current tree.

A query matches a definition's name (``method``) or its qualified name as the adapter built it
(``Class.method`` in Python, ``(*T).Method`` or ``T.Method`` in Go, ``Type::method`` in Rust). A Go
query ``T.Method`` also finds the pointer-receiver method ``(*T).Method``. Matching is exact or by
prefix, case-sensitive unless asked otherwise; every mode is one query on the lower-cased name
indexes of schema/010_reading_indexes.sql.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import class_row

from parsefleet.contract.outline import SymbolKind
from parsefleet.plumbing.database import sql

__all__ = ["MAX_QUERY_CHARS", "Definition", "FindQuery", "find_definitions"]

_HERE = Path(__file__).parent
Connection = psycopg.Connection[tuple[object, ...]]
# Longer queries name no definition (and are not sent to PostgreSQL).
MAX_QUERY_CHARS = 512
MAX_LIMIT = 1000
KINDS = tuple(kind.value for kind in SymbolKind)


@dataclass(frozen=True, slots=True)
class Definition:
    """One definition found, where it is now."""

    repository: str
    path: str
    language: str
    kind: str
    name: str
    qualified_name: str
    visibility: str
    start_line: int
    end_line: int
    parent: str | None
    parent_kind: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FindQuery:
    """What to look for. ``repository_ids`` None: every repository."""

    text: str
    prefix: bool = False
    ignore_case: bool = False
    kind: str | None = None
    language: str | None = None
    repository_ids: Sequence[int] | None = None
    limit: int = 100

    @property
    def searchable(self) -> bool:
        """False when the text cannot name a definition (empty, NUL, too long): nothing is found."""
        text = self.text.strip()
        return bool(text) and "\x00" not in text and len(text) <= MAX_QUERY_CHARS

    def params(self) -> dict[str, object]:
        """The parameters of sql/find_definitions.sql."""
        text = self.text.strip()
        alternative = _pointer_receiver(text)
        tail = "%" if self.prefix else ""
        return {
            "query": text,
            "pattern": like_escape(text.lower()) + tail,
            "alternative": None if alternative is None else like_escape(alternative.lower()) + tail,
            "exact": None if self.ignore_case else like_escape(text) + tail,
            "exact_alternative": None if self.ignore_case or alternative is None else like_escape(alternative) + tail,
            "kind": self.kind,
            "language": self.language,
            "repository_ids": None if self.repository_ids is None else list(self.repository_ids),
            "limit": max(1, min(self.limit, MAX_LIMIT)),
        }


def find_definitions(conn: Connection, query: FindQuery) -> list[Definition]:
    """The definitions ``query`` matches, best first: exact matches, then by name without case."""
    if not query.searchable or (query.repository_ids is not None and not query.repository_ids):
        return []
    with conn.cursor(row_factory=class_row(Definition)) as cursor:
        # prepare=False: a prepared (generic) plan cannot use a LIKE prefix on an index
        found = cursor.execute(sql(_HERE, "find_definitions"), query.params(), prepare=False).fetchall()
    conn.commit()
    return found


def like_escape(text: str) -> str:
    """``text`` as a LIKE pattern matching itself (``\\``, ``%``, ``_`` escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pointer_receiver(text: str) -> str | None:
    """``(*T).M`` for a Go-style ``T.M`` query (the adapter's name of a pointer-receiver method)."""
    receiver, dot, method = text.rpartition(".")
    if not dot or not receiver or receiver.startswith("(") or "::" in text:
        return None
    return f"(*{receiver}).{method}"
