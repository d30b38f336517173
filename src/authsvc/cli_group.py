"""The app's command group: a database a command cannot use is one line on stderr, never a traceback.

``flask init-db`` against a closed port, a missing database or a wrong role used to print some 140
lines of driver traceback, with the real problem on the last one. Every command the app adds (here,
in ``cli.py`` or ``migrate.py``) is looked up through this group, so each gets the same treatment
without knowing about it. Serving (``flask run``, gunicorn) never passes through here: a request that
meets a failing database still gets its 503.
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

import click
from flask import has_app_context
from flask.cli import AppGroup
from sqlalchemy import exc

from authsvc.config import CONFIG_ERROR_STATUS, ConfigError, report_config_error
from authsvc.db import get_engine
from authsvc.services.health import database_failure_reason, is_missing_table

EXIT_STATUS = 1


class DatabaseUnusable(click.ClickException):
    """Shown by click as our one line (not its ``Error: ...``), with its exit status."""

    exit_code = EXIT_STATUS

    def show(self, file: Any = None) -> None:
        click.echo(f"authsvc: {self.message}", err=True)


class ConfigurationStop(click.ClickException):
    """A configuration error met by a command (a FLASK_SECRET_KEY that cannot open the stored keys):
    the same one line, and exit status, as a bad setting at start-up."""

    exit_code = CONFIG_ERROR_STATUS

    def show(self, file: Any = None) -> None:
        report_config_error(ConfigError(self.message))


class OperatorCommands(AppGroup):
    """``app.cli``: hands out each command wrapped so that a database failure becomes one line."""

    @classmethod
    def replacing(cls, group: click.Group) -> OperatorCommands:
        """This group in place of Flask's own, keeping the commands already registered on it."""
        return cls(name=group.name, commands=group.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            return None
        # A copy, so the command object (shared by every app made in this process) stays as it was.
        guarded = copy.copy(command)
        # Replacing a method on this one copy is the point; mypy refuses any assignment to a method.
        guarded.invoke = partial(_one_line_on_database_error, command)  # type: ignore[method-assign]
        return guarded


def _one_line_on_database_error(command: click.Command, ctx: click.Context) -> Any:
    """Run ``command``; a database that cannot be reached or is not migrated ends it with one line.

    Only errors about the database's state are caught: any other error is a bug, and its traceback
    is what a developer needs.
    """
    try:
        return command.invoke(ctx)
    except ConfigError as error:
        raise ConfigurationStop(str(error)) from None
    except (exc.OperationalError, exc.InterfaceError, exc.ProgrammingError, exc.TimeoutError) as error:
        where = f" ({_safe_url()})" if has_app_context() else ""
        if is_missing_table(error):
            raise DatabaseUnusable(f"database not migrated{where}: run flask db upgrade") from None
        if isinstance(error, exc.ProgrammingError):
            raise  # a mistake in a query, not the database's state: its traceback is the report
        raise DatabaseUnusable(f"database unavailable: {database_failure_reason(error)}{where}") from None


def _safe_url() -> str:
    """The database URL without its password or query (which can hold one too, or a long DSN)."""
    return get_engine().url.set(query={}).render_as_string(hide_password=True)
