"""PostgreSQL connections and SQL files; psycopg errors become parsefleet's here.

Only connection-class errors (psycopg's OperationalError: the server unreachable or going away,
out of resources, a deadlock or serialization failure) are outages, ``StoreUnavailable``: a worker
retries its batch. A table that does not exist is a schema never migrated, ``SchemaMissing`` (an
outage an operator ends with `parsefleet db migrate`). Every other error (an undefined column, a
violated constraint, a bad value, a missing privilege) is ``StoreRejected``: retrying the same
statement cannot help, and a worker sends the batch to the dead-letter list.

SQL lives in ``.sql`` files beside the module that runs it (``<package>/sql/<name>.sql``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from parsefleet.contract.errors import SchemaMissing, StoreRejected, StoreUnavailable
from parsefleet.plumbing.redaction import shown_url

__all__ = ["connect", "session", "sql", "translated"]

_CONNECT_TIMEOUT_S = 10
# A client that vanishes without closing its connection (its host died, its network was cut) must
# not keep its transaction, and the row locks of a half-written batch, for the kernel's two hours:
# the server probes each session's socket (keepalives when idle, a 25 s limit on unacknowledged
# replies) and rolls the session back about 25 s after the client went silent, so the batch's
# redelivery to another worker is not blocked for long. libpq watches the server the same way, so a
# client notices a vanished server. Both are ignored on unix sockets.
_CLIENT_KEEPALIVE = {
    "keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3",
    "tcp_user_timeout": "25000",
}  # fmt: skip
_SERVER_KEEPALIVE = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c tcp_user_timeout=25000"
)


@contextmanager
def translated(url: str) -> Iterator[None]:
    """Turn psycopg errors raised inside the block into parsefleet's (the module's docstring), naming
    the (redacted) URL."""
    try:
        yield
    except psycopg.errors.UndefinedTable as exc:
        raise SchemaMissing(
            f"PostgreSQL at {shown_url(url)} has no parsefleet schema ({exc.diag.message_primary}); "
            "run `parsefleet db migrate`"
        ) from exc
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(
            f"PostgreSQL at {shown_url(url)} is unreachable ({_first_line(exc)}); "
            "check PARSEFLEET_DATABASE_URL and that the server is running"
        ) from exc
    except (psycopg.DataError, psycopg.IntegrityError) as exc:
        raise StoreRejected(f"PostgreSQL at {shown_url(url)} rejected the data: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise StoreRejected(f"PostgreSQL at {shown_url(url)} refused a statement: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection, or raise StoreUnavailable."""
    with translated(url):
        conninfo = make_conninfo(url, **_keepalive(url))
        return psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=_CONNECT_TIMEOUT_S)


def _keepalive(url: str) -> dict[str, str]:
    """Keepalive parameters the URL does not set itself (its own ``options`` are kept)."""
    given = conninfo_to_dict(url)
    params = {name: value for name, value in _CLIENT_KEEPALIVE.items() if name not in given}
    return {**params, "options": f"{given.get('options') or ''} {_SERVER_KEEPALIVE}".strip()}


@contextmanager
def session(url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection whose psycopg errors surface as StoreUnavailable; committed on success."""
    with connect(url) as conn, translated(url):
        yield conn


@cache
def sql(package_dir: Path, name: str) -> str:
    """Return the text of ``<package_dir>/sql/<name>.sql`` (read once per process)."""
    return (package_dir / "sql" / f"{name}.sql").read_text()
