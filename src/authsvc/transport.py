"""How a composed message leaves: SMTP (FLASK_MAIL_URL), or the log (``console://``).

``console://`` writes each message, its link included, to the log in development and testing: the
no-configuration way to follow a reset link. In production a link is a live credential and never
goes to a log, so there a message that cannot be sent is reported as an error and dropped.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage

from authsvc import smtp
from authsvc.config import Settings
from authsvc.services.outbox import Transport

log = logging.getLogger("authsvc.mail")


def make_transport(settings: Settings) -> Transport:
    server = smtp.parse_mail_url(settings.mail_url)
    if server is not None:
        timeout = settings.mail_timeout

        def send(message: EmailMessage) -> None:
            smtp.send(server, message, timeout=timeout)

        return send
    return _log_dropped if settings.is_production else _log_message


def _log_message(message: EmailMessage) -> None:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    log.info(
        "console mail (FLASK_MAIL_URL=console://) to %s: %s\n%s", message["To"], message["Subject"], text
    )


def _log_dropped(message: EmailMessage) -> None:
    log.error(
        "mail is off (FLASK_MAIL_URL=console://): a message (%s) was not sent; set FLASK_MAIL_URL "
        "to an SMTP server, see docs/email.md",
        message["Subject"],
    )
