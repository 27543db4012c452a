"""The base every language adapter extends: grammar, parser and query loading, cancellable parse.

A subclass names its grammar and query file and implements ``extract``: tree -> Outline.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import tree_sitter

from parsefleet.contract.errors import ParseFailure
from parsefleet.contract.outline import Outline
from parsefleet.workers.languages.edits import edits
from parsefleet.workers.limits import UNWATCHED_PARSE_MAX_BYTES, ParseBudget

__all__ = ["QUERY_DIR", "LanguageAdapter", "Version"]

QUERY_DIR = Path(__file__).parent / "queries"
_READ_CHUNK_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class Version:
    """A file's source and its tree, kept for the parse of its next version (history mode)."""

    source: bytes
    tree: tree_sitter.Tree


class LanguageAdapter(ABC):
    """Parses one language with tree-sitter and extracts its outline."""

    language: ClassVar[str]
    query_file: ClassVar[str]  # a file name in QUERY_DIR

    def __init__(self) -> None:
        self.ts_language = tree_sitter.Language(self._grammar())
        self.parser = tree_sitter.Parser(self.ts_language)
        self.query = tree_sitter.Query(self.ts_language, (QUERY_DIR / self.query_file).read_text())
        self._cursors: dict[int, tree_sitter.QueryCursor] = {}

    @staticmethod
    @abstractmethod
    def _grammar() -> object:
        """Return the grammar's language pointer (``tree_sitter_<lang>.language()``)."""

    @abstractmethod
    def extract(self, tree: tree_sitter.Tree, source: bytes, budget: ParseBudget | None = None) -> Outline:
        """Turn a parsed tree into the shared outline model; ``budget`` caps its symbols and memory
        before they are built (``tree.build_symbols``)."""

    def parse(self, source: bytes, budget: ParseBudget, old_tree: tree_sitter.Tree | None = None) -> tree_sitter.Tree:
        """Parse ``source`` (from ``old_tree``, edited to match, when given); raise the budget's
        ParseFailure when it cancels the parse (sources up to UNWATCHED_PARSE_MAX_BYTES are parsed
        directly: see parsefleet.workers.limits)."""
        if len(source) <= UNWATCHED_PARSE_MAX_BYTES:
            try:
                return self.parser.parse(source) if old_tree is None else self.parser.parse(source, old_tree)
            finally:
                self.parser.reset()

        def read(offset: int, _point: tuple[int, int]) -> bytes:
            return source[offset : offset + _READ_CHUNK_BYTES]

        try:
            if old_tree is None:
                return self.parser.parse(read, progress_callback=budget.progress)
            return self.parser.parse(read, old_tree, progress_callback=budget.progress)
        except ValueError as exc:  # tree-sitter's "Parsing failed" after a cancel
            raise budget.breach or ParseFailure(str(exc)) from exc
        finally:
            self.parser.reset()

    def outline(self, source: bytes, budget: ParseBudget) -> Outline:
        """Parse and extract one file, within ``budget`` at each step."""
        return self.outline_version(source, budget)[0]

    def outline_version(
        self, source: bytes, budget: ParseBudget, previous: Version | None = None, *, keep: bool = False
    ) -> tuple[Outline, Version | None]:
        """``outline``, re-parsing from the ``previous`` version's tree (edited to ``source``:
        ``Tree.edit`` per changed run of lines, then ``parse(source, old_tree)``) when given; the
        version with its tree back when ``keep`` (for the next version of the same file)."""
        old_tree = None
        if previous is not None:
            old_tree = previous.tree
            for edit in edits(previous.source, source):
                edit.apply(old_tree)
        tree = self.parse(source, budget, old_tree)
        del old_tree, previous
        budget.check_rss("outline not started: parsed")
        outline = self.extract(tree, source, budget)
        budget.check_symbols(len(outline.symbols))  # the reference fallback's outline, too
        kept = Version(source, tree) if keep else None
        del tree  # the outline holds no node: the tree goes before the next check (unless kept)
        budget.check_rss("outline dropped: outlined")
        return outline, kept

    def captures(self, node: tree_sitter.Node, max_start_depth: int | None = None) -> dict[str, list[tree_sitter.Node]]:
        """Run this adapter's query over ``node`` and return its captures by name.

        ``max_start_depth`` limits where matches may start (0 is ``node`` itself, 1 its children);
        the query then skips the deeper subtrees instead of visiting every node under ``node``.
        """
        if max_start_depth is None:
            return tree_sitter.QueryCursor(self.query).captures(node)
        cursor = self._cursors.get(max_start_depth)
        if cursor is None:  # a cursor is reusable once its last call has returned
            cursor = self._cursors[max_start_depth] = tree_sitter.QueryCursor(self.query)
            cursor.set_max_start_depth(max_start_depth)
        return cursor.captures(node)
