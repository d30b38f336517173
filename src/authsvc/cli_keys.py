"""``flask keys list | rotate | prune``: the signing keys of docs/keys.md, for operators."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from authsvc.cli import iso_utc
from authsvc.db import get_engine, session_scope
from authsvc.extensions import get_settings
from authsvc.keys import HS256, KeySealer, secret_kid
from authsvc.services import keys

keys_group = AppGroup("keys", help="Signing keys: list, rotate, prune (docs/keys.md).")
COLUMNS = ("kid", "algorithm", "state", "created", "retired")


def _sealer() -> KeySealer:
    return KeySealer(get_settings().secret_key)


@keys_group.command("list")
def list_command() -> None:
    """Every key that verifies tokens: the stored key pairs, then the HS256 secrets (by kid only)."""
    settings = get_settings()
    with session_scope(get_engine()) as session:
        rows = [
            (
                row.kid,
                row.algorithm,
                row.state
                + (" (signs)" if row.state == "current" and row.algorithm == settings.jwt_algorithm else ""),
                iso_utc(row.created_at),
                iso_utc(row.retired_at) if row.retired_at else "-",
            )
            for row in keys.list_keys(session=session)
        ]
    signs = settings.jwt_algorithm == HS256
    rows.append(
        (secret_kid(settings.jwt_secret_key), HS256, "secret" + (" (signs)" if signs else ""), "-", "-")
    )
    rows += [(secret_kid(old), HS256, "previous secret", "-", "-") for old in settings.previous_secret_list]
    widths = [max(len(cell) for cell in column) for column in zip(COLUMNS, *rows, strict=True)]
    for row in (COLUMNS, *rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@keys_group.command("rotate")
def rotate_command() -> None:
    """next -> current, current -> retired, and a new next key (every process follows within a minute)."""
    settings = get_settings()
    with session_scope(get_engine()) as session:
        done = keys.rotate(session=session, sealer=_sealer(), algorithm=settings.jwt_algorithm)
    if done.current is None:
        click.echo(
            "HS256 signs with FLASK_JWT_SECRET_KEY: rotate it by moving the old value to "
            "FLASK_JWT_PREVIOUS_SECRET_KEYS and setting a new one."
        )
    else:
        click.echo(f"{settings.jwt_algorithm}: {done.current} signs now; {done.next} is the next key.")
    if done.retired:
        click.echo(f"Retired (still verifying until flask keys prune drops them): {', '.join(done.retired)}.")


@keys_group.command("prune")
def prune_command() -> None:
    """Drop retired keys whose every token has expired (refresh lifetime + leeway + 60 s after retiring)."""
    with session_scope(get_engine()) as session:
        dropped = keys.prune(session=session, horizon=keys.prune_horizon(get_settings()))
    click.echo(
        f"Pruned {len(dropped)} retired key{'' if len(dropped) == 1 else 's'}"
        + (f": {', '.join(dropped)}." if dropped else ".")
    )


def ensure_configured_keys() -> str | None:
    """For ``flask init-db``: make the configured asymmetric algorithm's current and next keys if it has
    none; a line saying which keys sign and wait, or ``None`` under HS256."""
    algorithm = get_settings().jwt_algorithm
    if algorithm == HS256:
        return None
    with session_scope(get_engine()) as session:
        stored = keys.ensure_keys(session=session, sealer=_sealer(), algorithm=algorithm)
    mine = {key.state: key.kid for key in stored if key.algorithm == algorithm and key.state != "retired"}
    return f"Signing keys ({algorithm}): current {mine.get('current')}, next {mine.get('next', '-')}."


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_group)
