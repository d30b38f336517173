"""Schema migrations with Alembic, driven from the Flask CLI: ``flask db upgrade|downgrade|current|...``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import Engine

from authsvc.db import get_engine

SCRIPT_LOCATION = "authsvc:migrations"


@contextmanager
def alembic_config(engine: Engine) -> Iterator[Config]:
    """An Alembic config bound to one connection of ``engine``, committed when the block ends."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        yield config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with alembic_config(engine) as config:
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    with alembic_config(engine) as config:
        command.downgrade(config, revision)


db_cli = AppGroup("db", help="Database schema migrations (Alembic).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Upgrade the schema to REVISION (default: the newest)."""
    upgrade(get_engine(), revision)


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def downgrade_command(revision: str) -> None:
    """Downgrade the schema to REVISION (default: one step back)."""
    downgrade(get_engine(), revision)


@db_cli.command("current")
def current_command() -> None:
    """Show the revision the database is at."""
    with alembic_config(get_engine()) as config:
        command.current(config, verbose=False)


@db_cli.command("history")
def history_command() -> None:
    """List the revisions."""
    with alembic_config(get_engine()) as config:
        command.history(config)


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option("--autogenerate", is_flag=True, help="Compare the models with the database.")
def revision_command(message: str, autogenerate: bool) -> None:
    """Create a new revision file under src/authsvc/migrations/versions/."""
    with alembic_config(get_engine()) as config:
        command.revision(config, message=message, autogenerate=autogenerate)


@click.command("init-db")
def init_db_command() -> None:
    """Bring the schema to the newest revision (safe to run again)."""
    upgrade(get_engine())
    click.echo("Database ready.")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(init_db_command)
