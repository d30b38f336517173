"""The app's outbox delivered into a list instead of an SMTP server: for tests of what is mailed,
fast and in-process (the real SMTP path has its own tests against tests/mailserver.py's sink)."""

from __future__ import annotations

import re
from email.message import EmailMessage

from flask import Flask

from authsvc.mail import get_mail
from tests.mailserver import text_of


class Mailbox:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.messages: list[EmailMessage] = []
        get_mail(app).transport = self.messages.append

    def deliver(self) -> list[EmailMessage]:
        """Send what is due; the messages this pass delivered."""
        before = len(self.messages)
        with self.app.app_context():
            get_mail(self.app).deliver()
        return self.messages[before:]

    def to(self, address: str) -> list[EmailMessage]:
        """Every message delivered to ``address`` so far (delivering what is due first)."""
        self.deliver()
        return [message for message in self.messages if message["To"] == address]

    def token(self, fragment: str, to: str | None = None) -> str:
        """The token of the newest delivered message with a ``#<fragment>=`` link (to ``to``)."""
        self.deliver()
        for message in reversed(self.messages):
            if to is not None and message["To"] != to:
                continue
            found = re.search(rf"#{fragment}=([A-Za-z0-9_-]{{43}})", text_of(message))
            if found:
                return found.group(1)
        raise AssertionError(f"no #{fragment}= link delivered" + (f" to {to}" if to else ""))
