"""Every operator command meets a database it cannot use with one line on stderr, never a traceback.

A closed port, a database that does not exist, a wrong role, a schema never migrated: each used to be
some 140 lines of driver traceback. Each case runs ``flask ...`` as its own process; the password in
the URL must never reach the output.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from authsvc import create_app
from authsvc.db import get_engine
from tests import commands
from tests.conftest import TEST_DATABASE_URL, make_settings

PASSWORD = "hunter2pw"
CLOSED_PORT = f"postgresql+psycopg://authsvc:{PASSWORD}@127.0.0.1:1/authsvc"
MASKED = "postgresql+psycopg://authsvc:***@127.0.0.1:1/authsvc"
# Every command the app registers, with arguments that reach the database. A new command needs a row:
# docs/operations.md promises one line for every command.
EVERY_COMMAND = {
    "init-db": ["init-db"],
    "db current": ["db", "current"],
    "db upgrade": ["db", "upgrade"],
    "db downgrade": ["db", "downgrade", "base"],
    "db history": ["db", "history"],
    "db revision": ["db", "revision", "-m", "never written: the connection fails first"],
    "create-user": ["create-user", "alice", "--password", "tangerine-lighthouse-42"],
    "set-role": ["set-role", "alice", "admin"],
    "deactivate": ["deactivate", "alice"],
    "prune-tokens": ["prune-tokens"],
    "set-password": ["set-password", "alice", "--password", "tangerine-lighthouse-42"],
    "users list": ["users", "list"],
    "activate": ["activate", "alice"],
    "delete-user": ["delete-user", "alice", "--yes"],
    "keys list": ["keys", "list"],
    "keys rotate": ["keys", "rotate"],
    "keys prune": ["keys", "prune"],
    "clients create": ["clients", "create", "billing-api"],
    "clients list": ["clients", "list"],
    "clients delete": ["clients", "delete", "billing-api"],
    "mail send": ["mail", "send"],
}
# flask-openapi3's own, and the test message (sent straight through FLASK_MAIL_URL): no connection.
NOT_DATABASE = {"openapi", "mail test"}
needs_postgres = pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"), reason="needs TEST_DATABASE_URL=postgresql+psycopg://..."
)


def flask(tmp_path: Path, *args: str, url: str) -> commands.Finished:
    return commands.flask(
        tmp_path, *args, FLASK_DATABASE_URL=url, FLASK_INSTANCE_PATH=str(tmp_path / "instance")
    )


def registered(group: click.Group, prefix: str = "") -> set[str]:
    names = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names |= registered(command, f"{prefix}{name} ")
        else:
            names.add(prefix + name)
    return names


def test_every_command_has_a_row(tmp_path):
    app = create_app(make_settings(tmp_path, database_url=CLOSED_PORT))
    assert registered(app.cli) - NOT_DATABASE == set(EVERY_COMMAND)


@pytest.mark.parametrize("args", EVERY_COMMAND.values(), ids=EVERY_COMMAND.keys())
def test_every_command_meets_a_closed_port_with_one_line(tmp_path, args):
    """In-process (fast), through the same group ``flask`` uses."""
    app = create_app(make_settings(tmp_path, database_url=CLOSED_PORT))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.strip() == f"authsvc: database unavailable: connection refused ({MASKED})"
    assert PASSWORD not in result.output
    get_engine(app).dispose()


@pytest.mark.parametrize("command", ["init-db", "db current", "create-user", "prune-tokens"])
def test_a_closed_port_is_one_line_naming_it_with_the_password_masked(tmp_path, command):
    result = flask(tmp_path, *EVERY_COMMAND[command], url=CLOSED_PORT)
    line = commands.assert_one_line_error(result, mentions="database unavailable", never=(PASSWORD,))
    assert line == f"authsvc: database unavailable: connection refused ({MASKED})"


def test_a_plain_postgres_url_to_a_closed_port_is_one_line_too(tmp_path):
    result = flask(tmp_path, "init-db", url=CLOSED_PORT.replace("postgresql+psycopg://", "postgres://"))
    line = commands.assert_one_line_error(result, mentions="connection refused", never=(PASSWORD,))
    assert MASKED in line


def _on_test_server(**parts: str) -> str:
    """The test PostgreSQL's URL with some parts replaced (another role, another database)."""
    url = make_url(TEST_DATABASE_URL).difference_update_query(["options"])
    return url.set(**parts).render_as_string(hide_password=False)


@needs_postgres
@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ({"database": "authsvc_no_such_database"}, "database does not exist"),
        ({"username": "authsvc_no_such_role", "password": PASSWORD}, "authentication failed"),
    ],
    ids=["missing-database", "wrong-role"],
)
@pytest.mark.parametrize("command", ["db current", "create-user"])
def test_a_database_that_refuses_us_is_one_line_saying_why(tmp_path, parts, reason, command):
    result = flask(tmp_path, *EVERY_COMMAND[command], url=_on_test_server(**parts))
    line = commands.assert_one_line_error(
        result, mentions=f"database unavailable: {reason}", never=(PASSWORD,)
    )
    assert "***" in line or "password" not in parts


@pytest.fixture
def empty_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search path is a schema with no tables: reachable, never migrated."""
    schema = f"authsvc_empty_{os.getpid()}"
    engine = create_engine(_on_test_server())
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    yield (
        make_url(_on_test_server())
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@needs_postgres
@pytest.mark.parametrize("command", ["create-user", "prune-tokens"])
def test_a_database_never_migrated_is_one_line_saying_what_to_run(tmp_path, empty_schema, command):
    result = flask(tmp_path, *EVERY_COMMAND[command], url=empty_schema)
    line = commands.assert_one_line_error(result, mentions="database not migrated")
    assert "flask db upgrade" in line
