"""``parsefleet tags``: a repository's definitions as an Exuberant/Universal-ctags tags file.

The extended format (``!_TAG_FILE_FORMAT 2``), sorted byte-wise by tag name so that editors and
universal-ctags' ``readtags`` find a tag by binary search (``!_TAG_FILE_SORTED 1``). Each line is
``name<TAB>path<TAB>line;"`` and the fields ``kind``, ``line``, ``end``, ``language``, ``access``
and the scope (``<parent kind>:<parent qualified name>``, as ctags writes ``class:Outer``); paths
are relative to the repository root, so the file belongs there. The address is the line number:
the index keeps outlines, not source text. A definition whose qualified name differs from its
name gets a second line under the qualified name, marked ``extras:qualified`` (ctags
``--extras=+q``). A file name that is not plain printable UTF-8 (a tab or a newline would break the
format; a backslash or a byte that is not UTF-8 is stored escaped, parsefleet.contract.paths) cannot
be written as it is: its definitions are left out and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from parsefleet import __version__
from parsefleet.contract.paths import printable, shown
from parsefleet.plumbing.database import sql
from parsefleet.reading.repositories import Repository

__all__ = ["LANGUAGE_NAMES", "TagsFile", "load_tags", "tag_lines"]

_HERE = Path(__file__).parent
Connection = psycopg.Connection[tuple[object, ...]]
LANGUAGE_NAMES = {"python": "Python", "go": "Go", "rust": "Rust"}
_HEADER = (
    ("!_TAG_FILE_FORMAT", "2", 'extended format; --format=1 will not append ;" to lines'),
    ("!_TAG_FILE_SORTED", "1", "0=unsorted, 1=sorted, 2=foldcase"),
    ("!_TAG_FILE_ENCODING", "utf-8", ""),
    ("!_TAG_PROGRAM_NAME", "parsefleet", "outlines from the parsefleet index"),
    ("!_TAG_PROGRAM_VERSION", __version__, ""),
)
Row = tuple[object, ...]


@dataclass(frozen=True)
class TagsFile:
    """The lines of a tags file (header first) and how many definitions could not be written."""

    lines: list[str]
    definitions: int
    left_out: int

    def text(self) -> str:
        """The file's content."""
        return "".join(line + "\n" for line in self.lines)


def load_tags(conn: Connection, repository: Repository) -> TagsFile:
    """The tags file of ``repository``'s current tree."""
    rows = conn.execute(sql(_HERE, "tags_symbols"), {"repository_id": repository.id}).fetchall()
    conn.commit()
    writable = [row for row in rows if _writable(row)]
    return TagsFile(tag_lines(writable, repository.root), len(writable), len(rows) - len(writable))


def tag_lines(rows: Iterable[Row], root: str) -> list[str]:
    """Header and sorted tag lines of rows of sql/tags_symbols.sql."""
    header = [f"{name}\t{value}\t/{comment}/" for name, value, comment in _HEADER]
    header.append(f"!_TAG_PROC_CWD\t{_field(root.rstrip('/') + '/')}\t//")
    body = sorted((line for row in rows for line in _lines(row)), key=lambda line: line.encode())
    return header + body


def _writable(row: Row) -> bool:
    path, name, qualified = str(row[0]), str(row[3]), str(row[4])
    return shown(path) == path and printable(name) == name and printable(qualified) == qualified


def _lines(row: Row) -> Iterator[str]:
    path, language, kind, name, qualified, visibility, start, end, parent_kind, parent = row
    fields = [f"kind:{kind}", f"line:{start}", f"end:{end}", f"language:{LANGUAGE_NAMES.get(str(language), language)}"]
    if parent is not None:
        fields.append(f"{parent_kind}:{_field(str(parent))}")
    fields.append(f"access:{visibility}")
    yield "\t".join([str(name), str(path), f'{start};"', *fields])
    if qualified != name:
        yield "\t".join([str(qualified), str(path), f'{start};"', *fields, "extras:qualified"])


def _field(value: str) -> str:
    """A field value as ctags escapes it."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
