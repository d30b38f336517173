"""Operator commands: create-user and prune-tokens (init-db lives with the database)."""

from __future__ import annotations

import click
from flask import Flask
from pydantic import TypeAdapter, ValidationError

from authsvc.api.deps import hasher as current_hasher
from authsvc.db import get_engine, session_scope
from authsvc.exceptions import AuthError
from authsvc.models import Role, utcnow
from authsvc.schemas import PASSWORD_MIN, Email, Username
from authsvc.security import PasswordHasher
from authsvc.services import blocklist, users
from authsvc.services.passwords import password_problem


def _valid(adapter: TypeAdapter, value: str | None, what: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise click.BadParameter(error.errors()[0]["msg"], param_hint=what) from None


@click.command("create-user")
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
    if len(password) < PASSWORD_MIN:
        raise click.BadParameter(f"must be at least {PASSWORD_MIN} characters", param_hint="password")
    if problem := password_problem(password, username=username):
        # The operator chose it deliberately: warn, do not refuse.
        click.echo(f"Warning: {problem}", err=True)
    hasher: PasswordHasher = current_hasher()
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


@click.command("prune-tokens")
def prune_tokens_command() -> None:
    """Delete blocklist rows that can no longer match a valid token."""
    with session_scope(get_engine()) as session:
        removed = blocklist.prune(session, now=utcnow())
    click.echo(f"Pruned {removed} expired blocklist rows.")


def init_app(app: Flask) -> None:
    app.cli.add_command(create_user_command)
    app.cli.add_command(prune_tokens_command)
