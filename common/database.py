"""PostgreSQL connections and SQL files; psycopg errors become StoreUnavailable here.

SQL lives in ``.sql`` files beside the module that runs it (``<package>/sql/<name>.sql``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import psycopg

from common.errors import StoreRejected, StoreUnavailable
from common.settings import redact_url

__all__ = ["connect", "session", "sql", "translated"]

_CONNECT_TIMEOUT_S = 10


@contextmanager
def translated(url: str) -> Iterator[None]:
    """Turn psycopg errors raised inside the block into StoreUnavailable naming the (redacted) URL."""
    try:
        yield
    except psycopg.errors.UndefinedTable as exc:
        raise StoreUnavailable(
            f"PostgreSQL at {redact_url(url)} has no parsefleet schema ({exc.diag.message_primary}); "
            "run `parsefleet db migrate`"
        ) from exc
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(
            f"PostgreSQL at {redact_url(url)} is unreachable ({_first_line(exc)}); "
            "check PARSEFLEET_DATABASE_URL and that the server is running"
        ) from exc
    except (psycopg.DataError, psycopg.IntegrityError) as exc:
        raise StoreRejected(f"PostgreSQL at {redact_url(url)} rejected the data: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise StoreUnavailable(f"PostgreSQL at {redact_url(url)} refused a statement: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection, or raise StoreUnavailable."""
    with translated(url):
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=_CONNECT_TIMEOUT_S)


@contextmanager
def session(url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection whose psycopg errors surface as StoreUnavailable; committed on success."""
    with connect(url) as conn, translated(url):
        yield conn


@cache
def sql(package_dir: Path, name: str) -> str:
    """Return the text of ``<package_dir>/sql/<name>.sql`` (read once per process)."""
    return (package_dir / "sql" / f"{name}.sql").read_text()
