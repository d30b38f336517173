"""Is the database usable: reachable, and at the schema this code was written for."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

DatabaseState = Literal["ok", "unavailable", "not_migrated"]
SCRIPT_LOCATION = "authsvc:migrations"


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    state: DatabaseState
    revision: str | None  # where the schema is (None: never migrated, or unreachable)
    head: str  # where this code needs it


@cache
def head_revision() -> str:
    """The newest migration shipped with this code (read once: the files do not change)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def check_database(session: Session) -> DatabaseHealth:
    """One round trip: the schema's revision. A database that answers but was never migrated (or
    is behind) is not healthy: every request that needs a table would fail."""
    head = head_revision()
    try:
        revision = session.connection().execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as error:
        session.rollback()
        if is_missing_table(error):
            return DatabaseHealth("not_migrated", None, head)
        return DatabaseHealth("unavailable", None, head)
    return DatabaseHealth("ok" if revision == head else "not_migrated", revision, head)


def is_missing_table(error: BaseException) -> bool:
    """The database answered, but the table is not there (PostgreSQL's 42P01, SQLite's message)."""
    cause = getattr(error, "orig", None) or error
    return getattr(cause, "sqlstate", None) == "42P01" or "no such table" in str(cause)


# What operators need to read in a log line when the database fails, from the driver's own words,
# without the text itself (which can carry a host, a user or a DSN).
_REASONS = (
    ("password authentication failed", "authentication failed"),
    ("no password supplied", "authentication failed"),
    ("role", "authentication failed"),  # role "x" does not exist
    ("does not exist", "database does not exist"),
    ("connection refused", "connection refused"),
    ("timeout", "timeout"),
    ("timed out", "timeout"),
    ("could not translate host name", "host not found"),
    ("name or service not known", "host not found"),
    ("server closed the connection", "connection lost"),
    ("terminating connection", "connection lost"),
    ("unable to open database file", "database file cannot be opened"),
    ("database is locked", "database is locked"),
    ("no such table", "schema not migrated"),
)


def database_failure_reason(error: BaseException) -> str:
    """Why the database failed, as a short phrase safe to log (never the driver's raw message)."""
    cause = getattr(error, "orig", None) or error
    if getattr(cause, "sqlstate", None) == "42P01":
        return "schema not migrated"
    text_ = str(cause).lower()
    for needle, reason in _REASONS:
        if needle in text_:
            return reason
    return type(cause).__name__
