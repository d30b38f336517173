"""Placeholder until the mail-smtp branch lands (same API)."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True, slots=True)
class MailServer:
    scheme: Literal["smtp", "smtp+starttls", "smtps"]
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def is_loopback(self) -> bool:
        return self.host in {"localhost", "127.0.0.1", "::1"}


class DeliveryFailed(Exception):
    pass


def parse_mail_url(url: str) -> MailServer | None:
    if url.strip().lower() == "console://":
        return None
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in {"smtp", "smtp+starttls", "smtps"} or not parts.hostname:
        raise ValueError("must be console:// or smtp://, smtp+starttls:// or smtps://host[:port]")
    port = parts.port or (465 if scheme == "smtps" else 587)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return MailServer(scheme, parts.hostname, port, user, password)  # type: ignore[arg-type]


def send(server: MailServer, message: EmailMessage, *, timeout: float) -> None:
    try:
        with smtplib.SMTP(server.host, server.port, timeout=timeout) as client:
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryFailed(type(error).__name__) from None
