"""The one outline model every language adapter produces.

An outline is what parsefleet stores for a blob: its definitions (``Symbol``) and its imports
(``Import``), plus how the parse went. Every language fills the same fields, so outlines can be
compared across languages and against a reference parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

__all__ = ["FileStatus", "Import", "ImportOrigin", "Outline", "Symbol", "SymbolKind", "Visibility"]


class SymbolKind(StrEnum):
    """What a definition is. The values are stored in the database."""

    MODULE = "module"
    CLASS = "class"
    STRUCT = "struct"
    ENUM = "enum"
    UNION = "union"
    INTERFACE = "interface"
    TRAIT = "trait"
    IMPL = "impl"
    FUNCTION = "function"
    METHOD = "method"
    CONSTANT = "constant"
    STATIC = "static"
    VARIABLE = "variable"
    TYPE_ALIAS = "type_alias"
    MACRO = "macro"
    FIELD = "field"


class Visibility(StrEnum):
    """Who may use a definition: Go exported names, Rust ``pub``/``pub(crate)``, Python underscores."""

    PUBLIC = "public"
    CRATE = "crate"
    RESTRICTED = "restricted"
    PRIVATE = "private"


class ImportOrigin(StrEnum):
    """Where an imported module comes from."""

    STDLIB = "stdlib"
    THIRD_PARTY = "third_party"
    LOCAL = "local"


class FileStatus(StrEnum):
    """How a file's parse ended. ``failed`` files have no outline, only a failure row."""

    PARSED = "parsed"
    PARTIAL = "partial"  # tree-sitter recovered from syntax errors; error_count > 0
    FALLBACK = "fallback"  # tree-sitter failed, the reference parser's outline was used
    FAILED = "failed"


class Symbol(NamedTuple):
    """One definition. ``parent`` is the index of the enclosing symbol in the outline, or None.

    A NamedTuple, as Import: an outline holds thousands and a tuple is built in C (0.19 µs against
    0.94 µs for a frozen dataclass), which keeps the adapter's cost over the parse down.
    """

    kind: SymbolKind
    name: str
    qualified_name: str
    parent: int | None
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    start_byte: int
    end_byte: int  # exclusive
    visibility: Visibility
    from_macro: bool = False


class Import(NamedTuple):
    """One imported module (and, for ``from m import n``, the imported name)."""

    module: str
    name: str | None
    alias: str | None
    origin: ImportOrigin
    line: int  # 1-based


@dataclass(frozen=True, slots=True)
class Outline:
    """Everything parsefleet keeps of one parsed blob."""

    language: str
    symbols: tuple[Symbol, ...]
    imports: tuple[Import, ...]
    status: FileStatus = FileStatus.PARSED
    error_count: int = 0
    unexpanded_macros: int = 0
