"""The messages authsvc mails, composed from Jinja templates (text and HTML) a deployment can
override. Pure: no database, no Flask, no sending.

Every link is ``<link base>#<fragment>=<token>``: the token rides in the fragment, which no browser
sends to a server (no Referer, no access log), and the page POSTs it, so a mail scanner that opens
links spends nothing. The link base comes from the settings only, never from a request's Host.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, Template

SERVICE = "authsvc"


class Kind(StrEnum):
    """A message's template, and what the logs and the outbox call it."""

    VERIFY = "verify"
    RESET = "reset"
    EMAIL_CHANGE = "email_change"  # to the new address: confirm it
    EMAIL_CHANGE_NOTICE = "email_change_notice"  # to the old address: a change was asked for
    PASSWORD_CHANGED = "password_changed"
    TEST = "test"


# The link fragment each token-bearing message uses (API.md section 6).
FRAGMENTS = {Kind.VERIFY: "verify", Kind.RESET: "reset", Kind.EMAIL_CHANGE: "email"}


@dataclass(frozen=True, slots=True)
class Letter:
    """One composed message; ``message`` is what SMTP sends (its links hold a live token)."""

    kind: Kind
    recipient: str
    message: EmailMessage


class Composer:
    """Renders messages; templates in ``override`` (FLASK_MAIL_TEMPLATES) win over the packaged ones,
    file by file, so a deployment can change one message and keep the rest."""

    def __init__(self, *, sender: str, link_base: str | None, public_url: str, override: str = "") -> None:
        loaders: list[Any] = [FileSystemLoader(override)] if override else []
        loaders.append(PackageLoader("authsvc", "templates/mail"))
        # HTML is escaped (a username or an address cannot add markup); text is not, so it stays text.
        self._html = Environment(loader=ChoiceLoader(loaders), autoescape=True, undefined=StrictUndefined)
        self._text = Environment(loader=ChoiceLoader(loaders), autoescape=False, undefined=StrictUndefined)
        self.sender = sender
        self.link_base = link_base
        self.public_url = public_url
        self._domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"

    def link(self, kind: Kind, token: str) -> str | None:
        """Where the message's button leads; ``None`` without a link base (production without
        FLASK_PUBLIC_URL, where the message cannot be sent for real anyway)."""
        if self.link_base is None:
            return None
        return f"{self.link_base}#{FRAGMENTS[kind]}={token}"

    def compose(self, kind: Kind, *, to: str, token: str | None = None, **context: Any) -> Letter:
        """A text and HTML message to ``to``; ``context`` fills the templates (username, lifetime...)."""
        values = {
            "service": SERVICE,
            "public_url": self.public_url,
            "token": token,
            "link": self.link(kind, token) if token is not None else None,
            **context,
        }
        text_template = self._text.get_template(f"{kind.value}.txt")
        subject = str(_subject(text_template, values))
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._domain)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
        message.set_content(text_template.render(values, subject=subject))
        html = self._html.get_template(f"{kind.value}.html").render(values, subject=subject)
        message.add_alternative(html, subtype="html")
        return Letter(kind=kind, recipient=to, message=message)


def _subject(template: Template, values: dict[str, Any]) -> Any:
    """The ``{% set subject = ... %}`` at the top of a message's text template: one file holds both."""
    return getattr(template.make_module(values), "subject")  # noqa: B009 (a template variable)


def templates_folder() -> Path:
    """The packaged templates, for a deployment that copies one to change it."""
    return Path(__file__).parent / "templates" / "mail"


def lifetime_words(seconds: int) -> str:
    """``1800`` -> "30 minutes", ``86400`` -> "24 hours": what a person reads in a message."""
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "1 hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} seconds"
