"""``flask reset-mfa USERNAME``: remove a user's second factor for them (docs/mfa.md)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from authsvc.db import get_engine, session_scope
from authsvc.services import mfa, users
from authsvc.services.accounts import OPERATOR


@click.command("reset-mfa")
@with_appcontext
@click.argument("username")
def reset_mfa_command(username: str) -> None:
    """Remove USERNAME's second factor (a lost phone): sign-in asks for the password alone again."""
    with session_scope(get_engine()) as session:
        user = users.find_by_username(session, username)
        if user is None or user.id is None:
            raise click.ClickException(f"No user named {username!r}.")
        had = user.mfa_enabled
        mfa.reset(session=session, user_id=user.id, actor=OPERATOR)
    click.echo(
        f"{user.username!r}: second factor removed." if had else f"{user.username!r} had no second factor."
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(reset_mfa_command)
