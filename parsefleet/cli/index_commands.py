"""The readers of the index: ``parsefleet find``, ``outline``, ``tags``, ``db url``, ``db shell`` and
``serve``; their options, and what each does. Every read goes through parsefleet.reading's SQL, as
the console's pages and JSON API do."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from parsefleet.contract.errors import ConfigError
from parsefleet.contract.languages import LANGUAGES
from parsefleet.contract.paths import printable, shown, to_text
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.database import session
from parsefleet.plumbing.redaction import shown_url
from parsefleet.reading.definitions import KINDS, Definition, FindQuery, find_definitions
from parsefleet.reading.outlines import FileOutline, load_outline
from parsefleet.reading.repositories import repositories_named, repository_named
from parsefleet.reading.tags import load_tags
from parsefleet.services.endpoints import Services

__all__ = ["add_db_commands", "add_index_commands"]


def add_index_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """``find``, ``outline``, ``tags`` and ``serve``."""
    find = sub.add_parser("find", parents=[common], help="definitions by name or qualified name (Class.method)")
    find.add_argument("name", metavar="NAME", help="a name, or a qualified name: Class.method, (*T).M, Type::m")
    mode = find.add_mutually_exclusive_group()
    mode.add_argument("--exact", action="store_true", help="the name as given (the default)")
    mode.add_argument("--prefix", action="store_true", help="names starting with NAME")
    find.add_argument("-i", "--ignore-case", action="store_true", help="compare without case")
    find.add_argument("--kind", choices=KINDS, help="only this kind of definition")
    find.add_argument("--language", choices=LANGUAGES, help="only this language")
    find.add_argument("--repository", metavar="R", help="only this repository (its root, or its last component)")
    find.add_argument("--limit", type=int, default=100, help="at most this many (default 100, at most 1000)")
    find.add_argument("--json", action="store_true", help="print JSON")
    find.set_defaults(handler=_find)
    outline = sub.add_parser("outline", parents=[common], help="a file's definitions as a tree, and its imports")
    outline.add_argument("repository", metavar="REPOSITORY", help="its root, or its last component")
    outline.add_argument("path", metavar="PATH", help="the file's path in the repository")
    outline.add_argument("--json", action="store_true", help="print JSON")
    outline.add_argument("--commit", help="the file at an indexed commit still kept (id or prefix; default: current)")
    outline.set_defaults(handler=_outline)
    tags = sub.add_parser("tags", parents=[common], help="a ctags-compatible tags file of a repository")
    tags.add_argument("repository", metavar="REPOSITORY", help="its root, or its last component")
    tags.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    tags.set_defaults(handler=_tags)
    serve = sub.add_parser("serve", parents=[common], help="the web console and JSON API (read-only)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need a token)")
    serve.add_argument("--port", type=int, default=8470, help="port (default 8470; 0 picks a free one)")
    serve.set_defaults(handler=_serve)


def add_db_commands(db: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``db url`` and ``db shell``."""
    url = db.add_parser("url", parents=[common], help="print the database URL in use (never a password)")
    url.set_defaults(handler=_db_url)
    shell = db.add_parser("shell", parents=[common], help="psql on the database in use")
    shell.set_defaults(handler=_db_shell)


def _find(settings: Settings, args: argparse.Namespace) -> int:
    with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
        ids = None
        if args.repository is not None:
            ids = [item.id for item in repositories_named(conn, to_text(args.repository))]
        query = FindQuery(
            args.name,
            prefix=args.prefix,
            ignore_case=args.ignore_case,
            kind=args.kind,
            language=args.language,
            repository_ids=ids,
            limit=args.limit,
        )
        found = find_definitions(conn, query)
    if args.json:
        _print_json([item.as_dict() for item in found])
    else:
        print("\n".join(map(_definition_line, found)) if found else f"no definition {printable(args.name)!r} found")
    return 0 if found else 1


def _definition_line(item: Definition) -> str:
    where = f"{shown(item.repository.rstrip('/'))}/{shown(item.path)}:{item.start_line}-{item.end_line}"
    parent = f"  in {item.parent_kind} {printable(item.parent)}" if item.parent else ""
    return f"{printable(item.qualified_name)}  {item.kind}  {where}  {item.visibility}{parent}"


def _outline(settings: Settings, args: argparse.Namespace) -> int:
    with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
        repository = repository_named(conn, to_text(args.repository))
        found = load_outline(conn, repository, to_text(args.path), args.commit)
    if args.json:
        _print_json(found.as_dict())
    else:
        print(render_outline(found))
    return 0


def render_outline(outline: FileOutline) -> str:
    """An outline as indented text for a terminal."""
    status = outline.status or "not outlined yet"
    if outline.failure_kind:
        status += f" ({outline.failure_kind})"
    lines = [f"{shown(outline.repository.rstrip('/'))}/{shown(outline.path)}  {outline.language}, {status}"]
    tree = outline.children()

    def walk(parent: int | None, depth: int) -> None:
        for item in tree.get(parent, []):
            macro = ", from a macro" if item.from_macro else ""
            span = f"{item.start_line}-{item.end_line}"
            lines.append(f"{'  ' * depth}{item.kind} {printable(item.name)}  {span}  {item.visibility}{macro}")
            walk(item.ordinal, depth + 1)

    walk(None, 1)
    if outline.imports:
        lines.append("imports:")
    for entry in outline.imports:
        name = f"{entry.module}.{entry.name}" if entry.name else entry.module
        alias = f" as {entry.alias}" if entry.alias else ""
        lines.append(f"  {printable(name + alias)}  {entry.origin}  line {entry.line}")
    return "\n".join(lines)


def _tags(settings: Settings, args: argparse.Namespace) -> int:
    with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
        repository = repository_named(conn, to_text(args.repository))
        tags = load_tags(conn, repository)
    if args.output is None:
        sys.stdout.write(tags.text())
    else:
        _write_private(Path(args.output), tags.text())
        print(f"{args.output}: {len(tags.lines)} lines, {tags.definitions} definitions", file=sys.stderr)
    if tags.left_out:
        print(
            f"parsefleet: warning: {tags.left_out} definitions left out: their file names hold control characters,"
            " backslashes or bytes that are not UTF-8",
            file=sys.stderr,
        )
    return 0


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only when it is new (an existing file keeps its mode)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None


def _db_url(settings: Settings, _args: argparse.Namespace) -> int:
    with Services(settings, need_redis=False) as services:
        print(shown_url(services.database_url))
    return 0


def _db_shell(settings: Settings, _args: argparse.Namespace) -> int:
    psql = shutil.which("psql")
    if psql is None:
        raise ConfigError("psql not found on PATH: install it (Debian: postgresql-client) or use `parsefleet db url`")
    with Services(settings, need_redis=False) as services:
        params = conninfo_to_dict(services.database_url)
        env = dict(os.environ)
        password = params.pop("password", None)
        if password is not None:  # in the environment, not on a command line other users can read
            env["PGPASSWORD"] = str(password)
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # psql's Ctrl-C cancels its query, not us
        try:
            return subprocess.run([psql, make_conninfo("", **params)], env=env, check=False).returncode
        finally:
            signal.signal(signal.SIGINT, previous)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from parsefleet.console.server import serve

    return serve(settings, args.host, args.port)


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
