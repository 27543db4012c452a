"""The edits that turn one version of a file into the next, as tree-sitter's ``Tree.edit`` takes them.

A worker re-parsing a file from its previous version's tree (history mode: workers/outcome.py)
first tells the old tree what changed: one edit per changed run of lines, as difflib finds them,
last first, so that each is in the coordinates of the text as edited so far, which before it are
the old text's. Measured (docs/benchmarks.md, ``--profile history``): one edit spanning the first
to the last changed byte saves almost nothing, since tree-sitter then re-parses everything between.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass

import tree_sitter

__all__ = ["Edit", "edits"]


@dataclass(frozen=True, slots=True)
class Edit:
    """One change of a text: bytes ``start_byte`` to ``old_end_byte`` became ``start_byte`` to
    ``new_end_byte`` (and the same as rows and columns)."""

    start_byte: int
    old_end_byte: int
    new_end_byte: int
    start_point: tree_sitter.Point
    old_end_point: tree_sitter.Point
    new_end_point: tree_sitter.Point

    def apply(self, tree: tree_sitter.Tree) -> None:
        """Tell ``tree`` (parsed from the text before this edit) about it."""
        tree.edit(
            self.start_byte, self.old_end_byte, self.new_end_byte, self.start_point, self.old_end_point,
            self.new_end_point,
        )  # fmt: skip


def edits(old: bytes, new: bytes) -> list[Edit]:
    """The edits turning ``old`` into ``new``, one per changed run of lines, last first. The lines
    both versions share at their start and end are set aside before difflib compares the rest: the
    same kind of edits at half the cost (difflib's matching is most of it: 143 against 68 ms over
    this repository's last 50 commits of Python, 3 MB, whose parse from the old trees takes 128 ms)."""
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    head, tail = _shared_ends(old_lines, new_lines)
    old_starts = list(itertools.accumulate((len(line) for line in old_lines), initial=0))
    new_starts = list(itertools.accumulate((len(line) for line in new_lines), initial=0))
    middle = (old_lines[head : len(old_lines) - tail], new_lines[head : len(new_lines) - tail])
    matcher = difflib.SequenceMatcher(None, *middle, autojunk=False)
    found: list[Edit] = []
    for tag, old_from, old_to, new_from, new_to in reversed(matcher.get_opcodes()):
        if tag == "equal":
            continue
        start, end = old_starts[head + old_from], old_starts[head + old_to]
        inserted = new[new_starts[head + new_from] : new_starts[head + new_to]]
        start_point = _point(old, start)
        found.append(
            Edit(start, end, start + len(inserted), start_point, _point(old, end), _after(start_point, inserted))
        )
    return found


def _shared_ends(old_lines: list[bytes], new_lines: list[bytes]) -> tuple[int, int]:
    """How many lines both versions share at their start, and then at their end."""
    shortest = min(len(old_lines), len(new_lines))
    head = 0
    while head < shortest and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while tail < shortest - head and old_lines[-1 - tail] == new_lines[-1 - tail]:
        tail += 1
    return head, tail


def _after(point: tree_sitter.Point, inserted: bytes) -> tree_sitter.Point:
    """Where ``inserted``, written at ``point``, ends."""
    rows = inserted.count(b"\n")
    if not rows:
        return tree_sitter.Point(point.row, point.column + len(inserted))
    return tree_sitter.Point(point.row + rows, len(inserted) - inserted.rfind(b"\n") - 1)


def _point(source: bytes, offset: int) -> tree_sitter.Point:
    row = source.count(b"\n", 0, offset)
    column = offset - (source.rfind(b"\n", 0, offset) + 1)
    return tree_sitter.Point(row, column)
