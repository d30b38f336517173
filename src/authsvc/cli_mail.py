"""``flask mail send | test``: the outbox for operators (docs/email.md)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from pydantic import TypeAdapter

from authsvc.cli import _valid
from authsvc.db import get_engine
from authsvc.extensions import get_settings
from authsvc.mail import get_mail
from authsvc.messages import Kind
from authsvc.schemas import Email
from authsvc.services import outbox
from authsvc.smtp import DeliveryFailed

mail_group = AppGroup("mail", help="Mail: deliver the outbox now, or send a test message (docs/email.md).")


@mail_group.command("send")
def send_command() -> None:
    """Deliver every message that is due, once (for cron, beside or instead of the background sender).

    Exits 1 when a message could not be sent; it stays in the outbox and is retried.
    """
    delivery = get_mail().deliver()
    left = outbox.waiting(get_engine())
    click.echo(f"Sent {delivery.sent}, failed {delivery.failed}; {left} waiting in the outbox.")
    if delivery.failed:
        raise SystemExit(1)


@mail_group.command("test")
@click.argument("address")
def test_command(address: str) -> None:
    """Send a test message to ADDRESS now, through FLASK_MAIL_URL, and say whether it was accepted."""
    to = _valid(TypeAdapter(Email), address, "ADDRESS")
    mail = get_mail()
    letter = mail.mailer.composer.compose(Kind.TEST, to=to)
    try:
        mail.transport(letter.message)
    except DeliveryFailed as error:
        raise click.ClickException(f"the test message was not sent: {error}") from None
    where = "the log (FLASK_MAIL_URL=console://)" if not get_settings().mail_on else "the mail server"
    click.echo(f"Test message to {to} handed to {where}.")


def init_app(app: Flask) -> None:
    app.cli.add_command(mail_group)
