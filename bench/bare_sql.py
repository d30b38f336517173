"""The floors' database side: one open connection per worker thread, through authsvc's own drivers.

Statements are written with ``%s`` placeholders (psycopg's); on SQLite they become ``?``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

URL_VARIABLE = "BARE_DATABASE_URL"
_local = threading.local()


class Connection:
    """What the views need of a driver connection: fetch rows, execute, a transaction, a timestamp."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if self.sqlite:
            self.raw: Any = sqlite3.connect(parsed.database or "", isolation_level=None)
            for pragma in _SQLITE_PRAGMAS:
                self.raw.execute(pragma)
        else:
            conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.raw = psycopg.connect(conninfo, autocommit=True)

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", "?") if self.sqlite else sql

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.raw.execute(self._sql(sql), params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        cursor.close()
        return rows

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.raw.execute(self._sql(sql), params).close()

    def transaction(self) -> AbstractContextManager[None]:
        if self.sqlite:
            return self._sqlite_transaction()
        return self.raw.transaction()  # type: ignore[no-any-return]

    @contextmanager
    def _sqlite_transaction(self) -> Iterator[None]:
        self.raw.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def moment(self, value: datetime) -> datetime | str:
        """A timestamp as authsvc stores it: aware on PostgreSQL, SQLAlchemy's naive UTC text on SQLite."""
        if not self.sqlite:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


# As authsvc.db sets them on each SQLite connection, so the floor reads and writes the file alike.
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA mmap_size=67108864",
    "PRAGMA cache_size=-16000",
    "PRAGMA foreign_keys=ON",
)


def connection() -> Connection:
    """This thread's connection, opened on first use (after gunicorn forked the worker)."""
    db: Connection | None = getattr(_local, "connection", None)
    if db is None:
        db = _local.connection = Connection(os.environ[URL_VARIABLE])
    return db
