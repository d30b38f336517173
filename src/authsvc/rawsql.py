"""Fixed statements run on the driver's own cursor, for the reads every request makes.

On the token check and /list/, SQLAlchemy's execution and result layers cost more than the query
itself (on PostgreSQL: 390 us for the identity statement through Core, 234 us on the cursor; 780 us
against 560 us for 100 users; ``bench/pieces``). These statements never change, so each is built with
Core once, compiled at import for every dialect we run on, and executed on the DBAPI cursor of a
pooled connection. Errors still arrive as SQLAlchemy's exceptions, so the 503 handling is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, String, func, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

from authsvc.db import read_connection

# Named parameters on both drivers, so one dict of parameters serves every dialect.
DIALECTS = {
    "sqlite": sqlite.dialect(paramstyle="named"),
    "postgresql": postgresql.psycopg.dialect(),  # type: ignore[no-untyped-call]
}


@dataclass(frozen=True, slots=True)
class Statement:
    """SQL text for one dialect, the values of the parameters the compiler made for constants, and
    the column types' conversions of the parameters that have one (a UTC time, a JSON document),
    which SQLAlchemy would apply and the driver's cursor does not."""

    sql: str
    constants: dict[str, Any]
    processors: dict[str, Callable[[Any], Any]]

    def parameters(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` as the driver takes them: converted, with the constants added."""
        if self.processors:
            converted = {
                name: process(params[name]) for name, process in self.processors.items() if name in params
            }
            params = {**params, **converted}
        return {**self.constants, **params} if self.constants else params


Statements = dict[str, Statement]


def compile_for_each(build: Callable[[str], Executable]) -> Statements:
    """``build(dialect_name)`` compiled for each dialect, once."""
    statements = {}
    for name, dialect in DIALECTS.items():
        compiled = build(name).compile(dialect=dialect)  # type: ignore[attr-defined]
        constants = {key: value for key, value in compiled.params.items() if value is not None}
        processors = {
            rendered: process
            for bind, rendered in compiled.bind_names.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        statements[name] = Statement(str(compiled), constants, processors)
    return statements


def utc_text(column: Any, dialect_name: str) -> ColumnElement[str]:
    """A timestamp read as the UTC text ``YYYY-MM-DD HH:MM:SS.ffffff``, which responses print
    directly: parsing it into a datetime only to format it again is most of a 100-row read."""
    if dialect_name == "sqlite":  # stored as exactly that text
        return type_coerce(column, String)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS.US")


Execute = Callable[[dict[str, Any]], Any]


@contextmanager
def cursor(engine: Engine, statements: Statements) -> Iterator[Execute]:
    """A pooled connection (in autocommit, see ``read_connection``) and a function that executes the
    statement for its dialect with the given parameters and returns the driver's cursor to fetch from.

    A driver error becomes SQLAlchemy's (``OperationalError`` and the rest), and a lost connection
    is invalidated, exactly as if SQLAlchemy had executed the statement.
    """
    with read_connection(engine) as connection, driver_cursor(connection, statements) as execute:
        yield execute


def execute_in(connection: Connection, statements: Statements, params: dict[str, Any]) -> None:
    """Execute a fixed write on ``connection``'s driver, inside the transaction it is in (the audit
    row: SQLAlchemy's execution layer cost more than the INSERT itself, ``docs/benchmarks.md``)."""
    with driver_cursor(connection, statements) as execute:
        execute(params)


@contextmanager
def driver_cursor(connection: Connection, statements: Statements) -> Iterator[Execute]:
    """The statement for ``connection``'s dialect, executed on its driver's cursor, with driver errors
    raised as SQLAlchemy's (a lost connection invalidated), as ``cursor`` describes."""
    dialect = connection.dialect
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None  # a checked-out connection always has one
    statement = statements[dialect.name]
    sql = statement.sql
    driver = dbapi_connection.cursor()

    def execute(params: dict[str, Any]) -> Any:
        driver.execute(sql, statement.parameters(params))
        return driver

    try:
        yield execute
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, dbapi_connection, driver)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql, None, error, dialect.loaded_dbapi.Error,
            hide_parameters=True, connection_invalidated=lost, dialect=dialect,
        ) from error  # fmt: skip
    finally:
        driver.close()
