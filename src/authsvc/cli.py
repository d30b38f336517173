"""Operator commands: create-user, set-password, users list, set-role, activate, deactivate,
delete-user, prune-tokens and clients create/list/delete (init-db lives with the database)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from pydantic import TypeAdapter, ValidationError

from authsvc.db import get_engine, session_scope
from authsvc.exceptions import AuthError
from authsvc.extensions import get_codec, get_hasher, get_settings
from authsvc.models import Role, User, utcnow
from authsvc.schemas import Email, NewPassword, Username, error_message
from authsvc.security import PasswordHasher
from authsvc.services import accounts, clients, maintenance, queries, users
from authsvc.services.passwords import password_problem


def _valid(adapter: TypeAdapter[str], value: str | None, what: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise click.BadParameter(error_message(error.errors()[0]), param_hint=what) from None


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--email", default=None, help="Email address (optional for operator-made users).")
@click.option("--password", default=None, help="Prompted for (twice, hidden) when not given.")
@click.option("--admin", is_flag=True, help="Give the user the admin role.")
def create_user_command(username: str, email: str | None, password: str | None, admin: bool) -> None:
    """Create a user (an admin with --admin)."""
    username = _valid(TypeAdapter(Username), username, "USERNAME")
    if email is not None:
        email = _valid(TypeAdapter(Email), email, "--email")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    password = _valid(TypeAdapter(NewPassword), password, "password")
    if problem := password_problem(
        password, username=username, email=email, min_score=get_settings().password_min_score
    ):
        # The operator chose it deliberately: warn, do not refuse.
        click.echo(f"Warning: {problem}", err=True)
    hasher: PasswordHasher = get_hasher()
    with session_scope(get_engine()) as session:
        try:
            user = users.create_user(
                session=session,
                hasher=hasher,
                username=username,
                password=password,
                email=email,
                role=Role.ADMIN if admin else Role.USER,
            )
        except AuthError as error:
            raise click.ClickException(error.detail) from None
    click.echo(f"Created {user.role} {user.username!r} (id {user.id}).")


def _new_password(password: str | None, *, username: str, email: str | None) -> str:
    """The password given or prompted for (twice, hidden), held to the API's shape rules, with a
    warning (not a refusal: the operator chose it) when it is guessable. A refusal is one line."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        password = _valid(TypeAdapter(NewPassword), password, "password")
    except click.BadParameter as error:  # one line, without create-user's usage text
        raise click.ClickException(error.format_message()) from None
    if problem := password_problem(
        password, username=username, email=email, min_score=get_settings().password_min_score
    ):
        click.echo(f"Warning: {problem}", err=True)
    return password


def _existing(username: str) -> tuple[int, User]:
    """The id and row of the user of this name (any case), read and released before anything is
    asked: no transaction stays open while an operator types."""
    with session_scope(get_engine()) as session:
        user = users.find_by_username(session, username)
    if user is None or user.id is None:
        raise click.ClickException(f"No user named {username!r}.")
    return user.id, user


@click.command("set-password")
@with_appcontext
@click.argument("username")
@click.option("--password", default=None, help="Prompted for (twice, hidden) when not given.")
def set_password_command(username: str, password: str | None) -> None:
    """Set a user's password (for a user locked out) and end every session they have."""
    user_id, user = _existing(username)  # before the prompt: a typo costs no typing
    password = _new_password(password, username=user.username, email=user.email)
    with session_scope(get_engine()) as session:
        try:
            ended = accounts.set_password(
                session=session,
                hasher=get_hasher(),
                codec=get_codec(),
                user_id=user_id,
                new_password=password,
            )
        except AuthError as error:
            raise click.ClickException(error.detail) from None
    click.echo(f"Password set for {user.username!r}; {ended} session{'' if ended == 1 else 's'} ended.")
    if not user.is_active:
        click.echo(f"{user.username!r} is deactivated: `flask activate {user.username}` lets them sign in.")


@click.command("delete-user")
@with_appcontext
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_user_command(username: str, yes: bool) -> None:
    """Delete a user and end their sessions (the last active admin cannot be deleted)."""
    user_id, user = _existing(username)
    if not yes:
        click.confirm(
            f"Delete {user.role} {user.username!r} (id {user.id}) and end their sessions?", abort=True
        )
    with session_scope(get_engine()) as session:
        try:
            accounts.delete_user_by_operator(session=session, codec=get_codec(), user_id=user_id)
        except AuthError as error:
            raise click.ClickException(error.detail) from None
    click.echo(f"Deleted {user.role} {user.username!r} (id {user.id}).")


users_group = AppGroup("users", help="Look at user accounts.")
LISTING = ("id", "username", "email", "role", "active", "created")


@users_group.command("list")
@click.option("--role", type=click.Choice([role.value for role in Role]), help="Only users with this role.")
@click.option("--inactive", is_flag=True, help="Only deactivated users (the ones `flask activate` is for).")
def list_users_command(role: str | None, inactive: bool) -> None:
    """Every user, or those matching the options, in id order, as a table."""
    where = queries.UserFilter(role=role, is_active=False if inactive else None)
    with session_scope(get_engine()) as session:
        rows = [
            (
                str(user.id),
                user.username,
                user.email or "-",
                user.role,
                "yes" if user.is_active else "no",
                iso_utc(user.created_at),
            )
            for user in queries.list_users(session=session, where=where)
        ]
    if not rows:
        click.echo("No users.")
        return
    widths = [max(len(cell) for cell in column) for column in zip(LISTING, *rows, strict=True)]
    for row in (LISTING, *rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def iso_utc(moment: datetime) -> str:
    """A stored time as ISO 8601 UTC to the second (stored times are UTC, with or without a zone)."""
    return moment.replace(tzinfo=UTC, microsecond=0).isoformat().replace("+00:00", "Z")


def _change(username: str, *, role: Role | None = None, is_active: bool | None = None) -> None:
    """Apply an account change by username through the same service the API uses."""
    with session_scope(get_engine()) as session:
        user = users.find_by_username(session, username)
        if user is None or user.id is None:  # a stored user always has an id
            raise click.ClickException(f"No user named {username!r}.")
        try:
            accounts.update_user(
                session=session, codec=get_codec(), user_id=user.id, role=role, is_active=is_active
            )
        except AuthError as error:
            raise click.ClickException(error.detail) from None
        click.echo(f"{user.username!r}: role {user.role}, {'active' if user.is_active else 'deactivated'}.")


@click.command("set-role")
@with_appcontext
@click.argument("username")
@click.argument("role", type=click.Choice([role.value for role in Role]))
def set_role_command(username: str, role: str) -> None:
    """Make a user an admin or a plain user (the last active admin cannot be demoted)."""
    _change(username, role=Role(role))


@click.command("activate")
@with_appcontext
@click.argument("username")
def activate_command(username: str) -> None:
    """Reactivate a user: they can sign in again (sessions from before stay ended)."""
    _change(username, is_active=True)


@click.command("deactivate")
@with_appcontext
@click.argument("username")
def deactivate_command(username: str) -> None:
    """Deactivate a user: sign-in is refused and every session ends at once."""
    _change(username, is_active=False)


@click.command("prune-tokens")
@with_appcontext
def prune_tokens_command() -> None:
    """Delete blocklist rows that can no longer match a token, dead sessions, spent link tokens and
    audit events past FLASK_AUDIT_RETENTION_DAYS (cron)."""
    days = get_settings().audit_retention_days
    with session_scope(get_engine()) as session:
        pruned = maintenance.prune(session, now=utcnow(), audit_retention=timedelta(days=days))
    click.echo(
        f"Pruned {pruned.blocklist_rows} blocklist rows, {pruned.sessions} dead sessions, "
        f"{pruned.link_tokens} spent or expired link tokens "
        f"and {pruned.audit_events} audit events older than {days} days."
    )


clients_group = AppGroup("clients", help="Service clients: the other services that may introspect tokens.")


@clients_group.command("create")
@click.argument("name")
def create_client_command(name: str) -> None:
    """Register a service client; prints its client_id and client_secret, the secret only this once."""
    if not clients.valid_name(name):
        raise click.ClickException(f"{name!r} is not a client name: use {clients.NAME_RULE}.")
    with session_scope(get_engine()) as session:
        try:
            made = clients.create(session=session, name=name)
        except AuthError as error:
            raise click.ClickException(error.detail) from None
    # stdout carries only the two lines a script reads; the advice goes to stderr.
    click.echo(f"client_id: {made.client_id}")
    click.echo(f"client_secret: {made.client_secret}")
    click.echo("Store the secret now: only its hash is kept, and it is never shown again.", err=True)


@clients_group.command("list")
def list_clients_command() -> None:
    """Every service client by name, with its client_id (secrets are never stored, so never shown)."""
    with session_scope(get_engine()) as session:
        rows = [
            (row.name, row.client_id, iso_utc(row.created_at))
            for row in clients.list_clients(session=session)
        ]
    if not rows:
        click.echo("No service clients.")
        return
    _table(("name", "client_id", "created"), rows)


@clients_group.command("delete")
@click.argument("name")
def delete_client_command(name: str) -> None:
    """Delete a service client: its next introspection call is refused."""
    with session_scope(get_engine()) as session:
        try:
            row = clients.delete(session=session, name=name)
        except AuthError as error:
            raise click.ClickException(error.detail) from None
    click.echo(f"Deleted service client {row.name!r} (client_id {row.client_id}).")


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def init_app(app: Flask) -> None:
    app.cli.add_command(create_user_command)
    app.cli.add_command(prune_tokens_command)
    app.cli.add_command(set_role_command)
    app.cli.add_command(deactivate_command)
    app.cli.add_command(set_password_command)
    app.cli.add_command(users_group)
    app.cli.add_command(activate_command)
    app.cli.add_command(delete_user_command)
    app.cli.add_command(clients_group)
