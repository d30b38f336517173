"""The engine and one database session per request (on ``flask.g``, closed at teardown).

The schema itself is owned by the migrations (``authsvc.migrate``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from flask import Flask, current_app, g
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from authsvc import (
    files,
    models,  # noqa: F401  (registers the tables on SQLModel.metadata)
)
from authsvc.config import Settings

EXTENSION = "authsvc.engine"


def make_engine(settings: Settings) -> Engine:
    """SQLite gets WAL and a busy timeout so the threaded dev server never sees 'database is locked',
    and a database file (with its -wal and -shm) that only our user can read."""
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.query.get("uri"):
            files.private_sqlite(Path(url.database))  # 0600 before the first connection creates it
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = settings.db_connect_timeout
        # libpq "options" from the URL (e.g. a search_path) are kept beside the statement timeout.
        options = [str(url.query["options"])] if "options" in url.query else []
        if settings.db_statement_timeout_ms:
            options.append(f"-c statement_timeout={settings.db_statement_timeout_ms}")
        if options:
            connect_args["options"] = " ".join(options)
        url = url.difference_update_query(["options"])
    return create_engine(
        url,
        hide_parameters=True,  # SQL errors must never carry a hash or an email into a log line
        # Pre-ping tests each pooled connection before use (one extra round trip per request);
        # without it a connection broken while idle fails one request (a 503) before the pool renews.
        pool_pre_ping=settings.db_pool_pre_ping,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
        connect_args=connect_args,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # In WAL mode NORMAL never corrupts the database; it only defers the fsync to checkpoints.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Keep hot index pages (the blocklist's primary key) in memory: 64 MiB mapped, 16 MiB cache.
    cursor.execute("PRAGMA mmap_size=67108864")
    cursor.execute("PRAGMA cache_size=-16000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def lock_for_write(session: Session) -> None:
    """Serialise the rest of this transaction with every other writer, for a check-then-write.

    On SQLite a plain transaction only takes the write lock at its first write, so two requests
    could both check ("another admin exists") and then both write; ``BEGIN IMMEDIATE`` takes the
    lock up front and reads after it see every earlier commit. PostgreSQL uses row locks
    (``FOR UPDATE``) in the query that checks, so nothing is needed here.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi_connection: Any = connection.connection.dbapi_connection
    if not dbapi_connection.in_transaction:  # a write already began it: the lock is held
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def get_engine(app: Flask | None = None) -> Engine:
    return cast(Engine, (app or current_app).extensions[EXTENSION])


def get_session() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return cast(Session, g.db_session)


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session for work outside a request (CLI commands)."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = make_engine(settings)
    app.teardown_appcontext(close_session)
