"""Wiring for mail: the composer, the outbox's sealer, the transport and this process's sender,
built once per app. Commands and routes ask here; services get the ``Mailer`` passed in.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from flask import Flask, current_app
from sqlalchemy import Engine

from authsvc.config import DEVELOPMENT_PUBLIC_URL, Settings
from authsvc.db import get_engine
from authsvc.messages import Composer
from authsvc.sealing import Sealer
from authsvc.sender import OutboxSender
from authsvc.services.outbox import SEALING_INFO, Delivery, Mailer, deliver_due
from authsvc.transport import make_transport

EXTENSION = "authsvc.mail"


class Mail:
    """One app's mail: ``mailer`` for services, ``deliver`` for a pass now, and the sender thread,
    which runs only with FLASK_MAIL_SEND_IN_BACKGROUND (on by default; the tests turn it off)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        composer = Composer(
            sender=settings.mail_sender,
            link_base=settings.link_base,
            public_url=settings.public_base_url or DEVELOPMENT_PUBLIC_URL,
            override=settings.mail_templates,
        )
        self.mailer = Mailer(
            composer=composer, sealer=Sealer(settings.secret_key, info=SEALING_INFO), wake=self.wake
        )
        self.transport = make_transport(settings)
        self.background = settings.mail_send_in_background
        self.sender = OutboxSender(self._next_due)
        self._engine = engine

    def deliver(self) -> Delivery:
        """One pass over the outbox now (``flask mail send``, tests)."""
        return deliver_due(engine=self._engine, sealer=self.mailer.sealer, transport=self.transport)

    def _next_due(self) -> datetime | None:
        return self.deliver().next_due

    def start(self) -> None:
        """Start the sender when the process starts serving (``flask run``, a gunicorn worker)."""
        if self.background:
            self.sender.start()

    def wake(self) -> None:
        """After a commit that queued mail: start the sender if it is not running yet (another WSGI
        server), and ring it."""
        if self.background:
            self.sender.start()
            self.sender.wake()


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = Mail(settings, get_engine(app))


def get_mail(app: Flask | None = None) -> Mail:
    return cast(Mail, (app or current_app).extensions[EXTENSION])


def get_mailer() -> Mailer:
    return get_mail().mailer
