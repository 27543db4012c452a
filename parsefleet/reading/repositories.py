"""Repositories as a reader names them: the stored root, a path that resolves to it, or its last
component when that is unambiguous (``parsefleet outline inventory src/app.py``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psycopg

from parsefleet.contract.errors import NotInIndex
from parsefleet.plumbing.database import sql
from parsefleet.reading.definitions import like_escape

__all__ = ["Repository", "repositories_named", "repository_named"]

_HERE = Path(__file__).parent
Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class Repository:
    """A stored repository."""

    id: int
    root: str


def repositories_named(conn: Connection, name: str) -> list[Repository]:
    """Every repository ``name`` may mean; one when it names a root exactly."""
    if not name or "\x00" in name:
        return []
    params = {
        "name": name,
        "resolved": os.path.abspath(os.path.expanduser(name)),
        "suffix": "%/" + like_escape(name.rstrip("/")),
    }
    rows = conn.execute(sql(_HERE, "repositories_named"), params).fetchall()
    conn.commit()
    exact = [Repository(int(str(row[0])), str(row[1])) for row in rows if row[2]]
    return exact[:1] or [Repository(int(str(row[0])), str(row[1])) for row in rows]


def repository_named(conn: Connection, name: str) -> Repository:
    """The one repository ``name`` means, or NotInIndex (none, or several: they are named)."""
    found = repositories_named(conn, name)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotInIndex(f"no repository {name!r} in the index (parsefleet status lists runs; roots are absolute)")
    roots = ", ".join(repr(item.root) for item in found[:5])
    raise NotInIndex(f"repository {name!r} is ambiguous: {roots}; give its root")
