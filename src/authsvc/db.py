"""The engine and one database session per request (on ``flask.g``, closed at teardown).

The schema itself is owned by the migrations (``authsvc.migrate``).
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, cast

import psycopg
from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
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
        event.listen(engine, "connect", partial(_sqlite_pragmas, synchronous=settings.sqlite_synchronous))
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
    engine = create_engine(
        url,
        hide_parameters=True,  # SQL errors must never carry a hash or an email into a log line
        # Optional: a round trip per checkout. The socket check below already catches what it would.
        pool_pre_ping=settings.db_pool_pre_ping,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
        connect_args=connect_args,
    )
    event.listen(engine, "checkout", _refuse_dead_connection)
    return engine


def _refuse_dead_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Replace a pooled connection the server has already closed, without a round trip.

    An idle connection has nothing to read: the server speaks only when asked. When PostgreSQL
    restarts or terminates a backend it sends its FATAL notice and closes the socket, so a socket
    that polls readable (or hung up) at checkout is dead, and ``DisconnectionError`` makes the pool
    open a fresh one for this very request. This is what a pre-ping would find, for the cost of a
    ``poll`` instead of a round trip per request; a connection that dies in use still fails that
    request with a 503, as it would with a pre-ping.
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # not psycopg (SQLite has no socket)
        return
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError()
    try:
        descriptor = pgconn.socket
    except psycopg.OperationalError as error:  # libpq no longer has a socket for it
        raise DisconnectionError() from error
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        raise DisconnectionError()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, synchronous: str) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # FULL (the default) syncs the WAL at every commit: a power loss cannot take a commit back. In
    # WAL mode NORMAL never corrupts the database either, but defers the sync to checkpoints, so the
    # last commits (a spent refresh token, a logout) can be lost. Validated in config: FULL or NORMAL.
    cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
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


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A pooled connection for reads that need no transaction: the token check and /list/.

    On PostgreSQL it runs in autocommit, so a read costs its one statement: no BEGIN before it and
    no ROLLBACK after. Nothing is lost by it: under READ COMMITTED every statement takes its own
    snapshot anyway. SQLite's driver opens no transaction for a SELECT, so it needs nothing.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


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
