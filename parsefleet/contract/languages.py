"""The languages parsefleet parses, by file extension."""

from __future__ import annotations

import os
from pathlib import PurePath

__all__ = ["LANGUAGES", "SUFFIXES", "language_for"]

LANGUAGES: tuple[str, ...] = ("python", "go", "rust")

_BY_SUFFIX = {".py": "python", ".go": "go", ".rs": "rust"}
SUFFIXES: tuple[str, ...] = tuple(_BY_SUFFIX)


def language_for(path: str | PurePath) -> str | None:
    """Return the language of a path by its extension, or None when parsefleet does not parse it."""
    return _BY_SUFFIX.get(os.path.splitext(path)[1])  # as PurePath.suffix, without building a path
