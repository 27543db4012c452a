"""Outdated outlines: blobs of the repositories' current views that an older parser version outlined
and the one now in use has not (a grammar, query or adapter upgrade changes the version:
parsefleet.contract.versions). ``parsefleet status`` counts them; ``parsefleet reindex`` parses
them again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import class_row

from parsefleet.contract.languages import LANGUAGES
from parsefleet.contract.versions import parser_version
from parsefleet.plumbing.database import sql

__all__ = ["OutdatedFile", "outdated_counts", "outdated_files"]

_HERE = Path(__file__).parent
Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class OutdatedFile:
    """One file of a current view whose blob needs parsing again, and where to read it."""

    repository_id: int
    name: str
    location: str | None
    indexed_commit: str | None
    path: str
    blob_hash: bytes
    language: str
    size_bytes: int


def _versions() -> dict[str, object]:
    return {"languages": list(LANGUAGES), "versions": [parser_version(language) for language in LANGUAGES]}


def outdated_counts(conn: Connection) -> dict[str, int]:
    """Outdated blobs per language (languages with none left out)."""
    rows = conn.execute(sql(_HERE, "outdated_blobs"), _versions()).fetchall()
    conn.commit()
    return {str(language): int(str(blobs)) for language, blobs in rows}


def outdated_files(
    conn: Connection, language: str | None = None, repository_ids: Sequence[int] | None = None
) -> list[OutdatedFile]:
    """One file per outdated blob, of ``language`` and ``repository_ids`` (None: all)."""
    params = {
        **_versions(),
        "language": language,
        "repository_ids": None if repository_ids is None else list(repository_ids),
    }
    with conn.cursor(row_factory=class_row(OutdatedFile)) as cursor:
        found = cursor.execute(sql(_HERE, "outdated_files"), params).fetchall()
    conn.commit()
    return found
