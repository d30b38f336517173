"""SMTP transport: parse ``FLASK_MAIL_URL`` and hand one message to a server (API.md section 6).

Pure standard library, no authsvc imports, so config validation, the outbox worker and ``flask mail``
can all use it without pulling each other in. The rules it enforces:

- ``smtp://`` upgrades with STARTTLS whenever the server offers it; ``smtp+starttls://`` refuses to go
  on without it; ``smtps://`` is TLS from the first byte. Certificates are always checked
  (``ssl.create_default_context()``, which also honours ``SSL_CERT_FILE``).
- Credentials never cross an unencrypted connection, except to a loopback host (a local relay).
- Errors never carry the password or the message: what reaches a log is the exception class and the
  SMTP code and reply.
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import ssl
import urllib.parse
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal, cast

Scheme = Literal["smtp", "smtp+starttls", "smtps"]

DEFAULT_PORTS: dict[str, int] = {"smtp": 587, "smtp+starttls": 587, "smtps": 465}
_EXPECTED = "expected console://, smtp://user:password@host:587, smtp+starttls://... or smtps://...:465"
# RFC 3986's scheme grammar: only a scheme of this shape is ever echoed in an error, so a URL
# mangled into "user:secret@host://..." cannot put its password into the message.
_SCHEME_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,19}")
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")
_REASON_LIMIT = 200


@dataclass(frozen=True, slots=True)
class MailServer:
    """Where and how to deliver; the password stays out of ``repr`` so it never lands in a log."""

    scheme: Scheme
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def is_loopback(self) -> bool:
        """True for ``localhost`` and loopback IP literals: the only hosts that may get plaintext AUTH."""
        if self.host.lower().rstrip(".") == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class DeliveryFailed(Exception):
    """A message was not handed over; ``reason`` is safe to log, ``code`` is the SMTP reply if any.

    The outbox retries on this; a 5xx ``code`` tells it the server will likely refuse again.
    """

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def parse_mail_url(url: str) -> MailServer | None:
    """Read ``FLASK_MAIL_URL``; ``None`` means ``console://`` (write messages to the log).

    Every ``ValueError`` is one line that names the problem and never echoes the URL, because the
    config layer shows it to operators and the URL may hold a password.
    """
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        raise ValueError(f"mail URL has no scheme: {_EXPECTED}")
    scheme = scheme.lower()
    if scheme == "console":
        if rest:
            raise ValueError("console:// takes nothing after it")
        return None
    if scheme not in DEFAULT_PORTS:
        named = f" {scheme!r}" if _SCHEME_TOKEN.fullmatch(scheme) else ""
        raise ValueError(f"mail URL has an unknown scheme{named}: {_EXPECTED}")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # e.g. "Invalid IPv6 URL"; its text is not ours to pass on
        raise ValueError("mail URL has a malformed host") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("mail URL takes no path, query or fragment after host:port")
    if not host:
        raise ValueError(f"mail URL has no host: {_EXPECTED}")
    if not _valid_host(host):
        raise ValueError("mail URL has a malformed host")
    port = _port(parts.netloc.rpartition("@")[2], DEFAULT_PORTS[scheme])
    username, password = _credentials(parts.username, parts.password)
    return MailServer(cast(Scheme, scheme), host, port, username, password)


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOST_NAME.fullmatch(host) is not None
    return True


def _port(hostport: str, default: int) -> int:
    """The port after the host, parsed strictly: ``int()`` would take "+25", " 25" and "2_5"."""
    if hostport.startswith("["):
        after = hostport.partition("]")[2]
        text = after[1:] if after.startswith(":") else after
    elif hostport.count(":") > 1:
        raise ValueError("mail URL has a malformed host (an IPv6 address needs [brackets])")
    else:
        text = hostport.partition(":")[2]
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise ValueError("mail URL port must be a number from 1 to 65535")
    return int(text)


def _credentials(username: str | None, password: str | None) -> tuple[str | None, str | None]:
    if not username and not password:
        return None, None
    if not username:
        raise ValueError("mail URL has a password but no user name")
    if not password:
        raise ValueError("mail URL has a user name but no password")
    return urllib.parse.unquote(username), urllib.parse.unquote(password)


def credentials_allowed(server: MailServer, *, encrypted: bool) -> bool:
    """May AUTH go out on this connection? Only over TLS, or to a relay on this very machine."""
    return encrypted or server.is_loopback


def send(server: MailServer, message: EmailMessage, *, timeout: float) -> None:
    """Deliver ``message`` (recipients from its headers) or raise ``DeliveryFailed``.

    ``timeout`` bounds the connect and every later read and write, not the whole conversation. QUIT
    is only sent when the server is still talking sensibly: after a timeout it would cost a second
    ``timeout`` for nothing.
    """
    context = ssl.create_default_context()
    polite = False
    client: smtplib.SMTP | None = None
    try:
        if server.scheme == "smtps":
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=timeout)
        _deliver(client, server, message, context)
        polite = True
    except DeliveryFailed:
        polite = True
        raise
    except smtplib.SMTPAuthenticationError as exc:
        polite = True
        # The server's reply to AUTH could echo what it was sent: keep only the code, and drop the
        # chained original so a logged traceback cannot show it either.
        raise DeliveryFailed(f"SMTPAuthenticationError: {exc.smtp_code}", exc.smtp_code) from None
    except smtplib.SMTPResponseException as exc:
        polite = True
        raise DeliveryFailed(_reply_reason(exc, exc.smtp_code, exc.smtp_error), exc.smtp_code) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        polite = True
        code, reply = next(iter(exc.recipients.values()), (None, b""))
        raise DeliveryFailed(_reply_reason(exc, code, reply), code) from exc
    except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError and timeouts are OSErrors
        # smtplib drops the socket itself when the connection breaks (client.sock is None then);
        # after a raw socket or TLS error the stream is in an unknown state, so no QUIT.
        polite = isinstance(exc, smtplib.SMTPException)
        raise DeliveryFailed(_one_line(f"{type(exc).__name__}: {exc}")) from exc
    finally:
        if client is not None:
            _close(client, polite=polite)


def _deliver(
    client: smtplib.SMTP, server: MailServer, message: EmailMessage, context: ssl.SSLContext
) -> None:
    """After the greeting: EHLO, decide on TLS, AUTH only if that decision allows it, then the message."""
    client.ehlo_or_helo_if_needed()
    encrypted = server.scheme == "smtps"
    if not encrypted and client.has_extn("starttls"):
        code, reply = client.starttls(context=context)
        if code != 220:  # smtplib returns a refusal instead of raising; going on in clear is a downgrade
            raise DeliveryFailed(_reply_reason(None, code, reply, prefix="STARTTLS refused"), code)
        client.ehlo()
        encrypted = True
    if server.scheme == "smtp+starttls" and not encrypted:
        raise DeliveryFailed("server does not offer STARTTLS, which smtp+starttls:// requires")
    if server.username is not None:
        if not credentials_allowed(server, encrypted=encrypted):
            raise DeliveryFailed("refusing to send credentials unencrypted to a host that is not loopback")
        client.login(server.username, server.password or "")
    refused = client.send_message(message)
    if refused:  # some took it, some did not: a retry may deliver twice (at least once, API.md 6)
        code, reply = next(iter(refused.values()))
        raise DeliveryFailed(_reply_reason(None, code, reply, prefix="recipient refused"), code)


def _close(client: smtplib.SMTP, *, polite: bool) -> None:
    try:
        if polite and client.sock is not None:
            client.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        client.close()


def _reply_reason(exc: BaseException | None, code: int | None, reply: bytes | str, prefix: str = "") -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    label = prefix or (type(exc).__name__ if exc is not None else "SMTP error")
    return _one_line(f"{label}: {code} {text}" if code is not None else f"{label}: {text}")


def _one_line(text: str) -> str:
    """Collapse whitespace (multi-line replies) and cap the length, so a reason stays a log field."""
    line = " ".join(text.split())
    return line if len(line) <= _REASON_LIMIT else line[: _REASON_LIMIT - 1] + "…"
