"""``parsefleet outline``: one file of a repository's current tree, its definitions as a tree and
its imports with their origin (stdlib, third party, local)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import class_row

from parsefleet.contract.errors import NotInIndex
from parsefleet.plumbing.database import sql
from parsefleet.reading.repositories import Repository

__all__ = ["FileOutline", "OutlineImport", "OutlineSymbol", "load_outline", "relative_path"]

_HERE = Path(__file__).parent
_COMMIT = re.compile(r"[0-9a-fA-F]{4,64}")  # a commit id or a prefix of one
Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class OutlineSymbol:
    """One definition; ``parent`` is the ordinal of the enclosing one."""

    ordinal: int
    kind: str
    name: str
    qualified_name: str
    parent: int | None
    start_line: int
    end_line: int
    visibility: str
    from_macro: bool


@dataclass(frozen=True, slots=True)
class OutlineImport:
    """One import and where it comes from."""

    module: str
    name: str | None
    alias: str | None
    origin: str
    line: int


@dataclass(frozen=True)
class FileOutline:
    """A file's outline as stored; ``status`` None when its blob was never outlined."""

    repository: str
    path: str
    language: str
    status: str | None
    failure_kind: str | None
    parsed_at: datetime | None
    symbols: list[OutlineSymbol] = field(default_factory=list)
    imports: list[OutlineImport] = field(default_factory=list)

    def children(self) -> dict[int | None, list[OutlineSymbol]]:
        """Symbols by parent ordinal (None: top level), in file order."""
        tree: dict[int | None, list[OutlineSymbol]] = {}
        known = {item.ordinal for item in self.symbols}
        for item in self.symbols:
            tree.setdefault(item.parent if item.parent in known else None, []).append(item)
        return tree

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data: the flat symbols with parent links, and the same as a nested tree."""
        tree = self.children()

        def nested(parent: int | None) -> list[dict[str, Any]]:
            return [{**asdict(item), "children": nested(item.ordinal)} for item in tree.get(parent, [])]

        return {
            "repository": self.repository,
            "path": self.path,
            "language": self.language,
            "status": self.status,
            "failure_kind": self.failure_kind,
            "parsed_at": None if self.parsed_at is None else self.parsed_at.isoformat(),
            "symbols": [asdict(item) for item in self.symbols],
            "tree": nested(None),
            "imports": [asdict(item) for item in self.imports],
        }


def relative_path(repository: Repository, path: str) -> str:
    """``path`` as stored (relative, POSIX): absolute paths under the root and ``./`` are accepted."""
    root = repository.root.rstrip("/")
    if path.startswith(root + "/"):
        path = path[len(root) + 1 :]
    normal = posixpath.normpath(path)
    return "" if normal in {".", ""} or normal.startswith("../") or normal == ".." else normal


def load_outline(conn: Connection, repository: Repository, path: str, commit: str | None = None) -> FileOutline:
    """The outline of ``path`` in ``repository``'s current tree, or in its tree at ``commit`` (an
    indexed commit still kept: its id or a prefix of it), or NotInIndex."""
    relative = relative_path(repository, path) if "\x00" not in path else ""
    row = None
    if relative and commit is None:
        params = {"repository_id": repository.id, "path": relative}
        row = conn.execute(sql(_HERE, "outline_file"), params).fetchone()
    elif relative and _COMMIT.fullmatch(commit or ""):
        params = {"repository_id": repository.id, "path": relative, "commit_like": f"{(commit or '').lower()}%"}
        row = conn.execute(sql(_HERE, "outline_file_at"), params).fetchone()
    if row is None:
        conn.commit()
        where = "the current tree" if commit is None else f"the tree at indexed commit {commit!r}"
        raise NotInIndex(f"no file {path!r} in {where} of {repository.root}")
    language, blob_hash, version, status, failure_kind, _errors, parsed_at = row
    outline = FileOutline(
        repository=repository.root,
        path=relative,
        language=str(language),
        status=None if status is None else str(status),
        failure_kind=None if failure_kind is None else str(failure_kind),
        parsed_at=parsed_at if isinstance(parsed_at, datetime) else None,
    )
    if status is not None and status != "failed":
        key = {"blob_hash": blob_hash, "parser_version": version}
        with conn.cursor(row_factory=class_row(OutlineSymbol)) as cursor:
            outline.symbols.extend(cursor.execute(sql(_HERE, "outline_symbols"), key))
        with conn.cursor(row_factory=class_row(OutlineImport)) as cursor:
            outline.imports.extend(cursor.execute(sql(_HERE, "outline_imports"), key))
    conn.commit()
    return outline
