"""The benchmark's databases: a fresh migrated schema on SQLite or on ``BENCH_DATABASE_URL``."""

from __future__ import annotations

import os

from sqlalchemy import Engine, MetaData
from sqlmodel import create_engine

from authsvc import migrate

URL_VARIABLE = "BENCH_DATABASE_URL"


def postgres_url() -> str | None:
    """The PostgreSQL database to measure as well (every table in it is dropped), if one is set."""
    return os.environ.get(URL_VARIABLE) or None


def drop(engine: Engine) -> None:
    """Drop every table in the database (the migrations' included)."""
    metadata = MetaData()
    metadata.reflect(engine)
    metadata.drop_all(engine)


def fresh(url: str) -> Engine:
    """Drop every table in the database at ``url`` and migrate it to head; return an engine on it."""
    engine = create_engine(url)
    drop(engine)
    migrate.upgrade(engine)
    return engine


def label(engine: Engine) -> str:
    return "SQLite" if engine.dialect.name == "sqlite" else "PostgreSQL"
