"""Schema migrations with Alembic, driven from the Flask CLI: ``flask db upgrade|downgrade|current|...``."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.cli import AppGroup, run_command, with_appcontext
from sqlalchemy import Engine

from authsvc import files
from authsvc.cli_keys import ensure_configured_keys
from authsvc.db import get_engine
from authsvc.services.health import SCRIPT_LOCATION


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


def upgrade_on_start(engine: Engine, lock_dir: Path) -> None:
    """Migrate a SQLite database when the app starts, one process at a time.

    Several server workers start together on a fresh file; the lock keeps them from creating the
    same tables twice. It lies beside the database file, since that is what it guards: processes
    with instance folders of their own may share one file. (An in-memory database has no file: its
    lock goes in ``lock_dir``. PostgreSQL deployments run ``flask db upgrade`` before starting.)
    """
    files.private_dir(lock_dir)  # the instance folder: it also holds the development secrets
    database = engine.url.database
    on_disk = bool(database) and database != ":memory:"
    lock_path = Path(f"{database}.migrate-lock") if on_disk else lock_dir / "migrate.lock"
    files.private_file(lock_path)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            upgrade(engine)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def serving() -> bool:
    """Is the app being made to serve requests, and so allowed to migrate a SQLite file by itself?

    Under the ``flask`` command only ``flask run`` serves: every other command, ``flask db ...`` above
    all, must find the database as it is (a downgrade would otherwise be undone by the next command
    before it ran). Outside the ``flask`` command there is no click context: gunicorn or another WSGI
    server, or a test calling ``create_app``, and the app is made to serve.
    """
    context = click.get_current_context(silent=True)
    return context is None or context.command is run_command


def flask_run() -> bool:
    """Is this ``flask run``? (Then the app starts its background work as it is made.)"""
    context = click.get_current_context(silent=True)
    return context is not None and context.command is run_command


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
@with_appcontext
def init_db_command() -> None:
    """Bring the schema to the newest revision and make the signing keys it needs (safe to run again)."""
    upgrade(get_engine())
    click.echo("Database ready.")
    if line := ensure_configured_keys():
        click.echo(line)


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(init_db_command)
