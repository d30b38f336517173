"""Alembic environment: runs on the connection ``authsvc.migrate`` hands it (the app's engine)."""

from __future__ import annotations

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from authsvc.models import UTCDateTime, on_dialect  # importing models registers every table on the metadata

config = context.config
target_metadata = SQLModel.metadata


def render_item(type_: str, obj: object, _context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes our UTC column type as the plain type it stores, keeping revisions portable."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        render_item=render_item,
        include_object=on_dialect(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `flask db ...`, which supplies the app's database connection")
run_migrations(connection)
