"""The console's PostgreSQL connections: a few, reused, read-only, with a statement timeout (sql/session.sql).

A request borrows one for the length of its reads; psycopg errors inside become StoreUnavailable
(parsefleet.plumbing.database.translated), and a connection that saw an error is closed, not
returned. The connections refuse writes (``default_transaction_read_only``): the console cannot
change the index even through a bug.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.pq import TransactionStatus

from parsefleet.plumbing.database import connect, sql, translated

__all__ = ["Connections"]

Connection = psycopg.Connection[tuple[object, ...]]
_HERE = Path(__file__).parent


class Connections:
    """At most ``size`` connections to ``database_url``, borrowed one request at a time."""

    def __init__(self, database_url: str, size: int = 4) -> None:
        self.database_url = database_url
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def borrow(self) -> Iterator[Connection]:
        """A connection for one request (waits while ``size`` are in use)."""
        with self._slots:
            conn = self._take()
            try:
                with translated(self.database_url):
                    yield conn
                    if conn.info.transaction_status != TransactionStatus.IDLE:
                        conn.rollback()
            except BaseException:
                conn.close()
                raise
            self._idle.put(conn)

    def close(self) -> None:
        """Close the idle connections."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def _take(self) -> Connection:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return self._open()
            if not conn.closed:
                return conn

    def _open(self) -> Connection:
        conn = connect(self.database_url)
        with translated(self.database_url):
            conn.execute(sql(_HERE, "session"))
            conn.commit()
        return conn
