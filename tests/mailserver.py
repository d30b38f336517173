"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, in plain, STARTTLS or implicit-TLS mode.

``SmtpSink`` records every message it accepts (envelope and parsed ``EmailMessage``), whether that
session was encrypted and who authenticated, and can be stopped and started again on the same port,
so the outbox's "SMTP down, then back" path meets a real refusal and a real recovery. The fixtures
that build it live in ``tests/mail_fixtures.py``.
"""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ipaddress
import logging
import re
import socket
import ssl
import threading
import weakref
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
MAIL_USER = "mailer"
MAIL_PASSWORD = "smtp-pa55word-not-in-logs"
Tls = Literal["none", "starttls", "smtps"]
_TOKEN = r"[A-Za-z0-9_-]{43}"  # secrets.token_urlsafe(32), API.md section 6


class _DropLoginDataNotice(logging.Filter):
    """aiosmtpd warns "Session.login_data is deprecated" from its *own* AUTH code on every success."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_DropLoginDataNotice())


@dataclass(frozen=True)
class Certs:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, signed by it."""

    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certs(directory: Path) -> Certs:
    """P-256 keys (fast to make) and the extensions a strict verifier (VERIFY_X509_STRICT) wants."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "authsvc test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    certs = Certs(ca=directory / "ca.pem", cert=directory / "server.pem", key=directory / "server.key")
    certs.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certs


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class Received:
    """One accepted message: the envelope, the parsed message, and how the session was secured."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    tls: bool
    user: str | None  # the AUTH login, None when the session did not authenticate


class _Handler:
    """aiosmtpd hooks (every ``handle_*`` attribute is one, so helpers must not be named so)."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        # With this five-argument hook aiosmtpd no longer records the EHLO name itself, and without
        # it every later MAIL gets "503 send HELO first".
        session.host_name = hostname
        self._sink._note("EHLO")
        if self._sink.credentials is None:
            return [line for line in responses if not line.startswith("250-AUTH")]
        return responses

    def handle_STARTTLS(self, server: SMTP, session: Session, envelope: Envelope) -> bool:
        self._sink._note("STARTTLS")
        return True  # the handshake is acceptable (aiosmtpd calls this one synchronously)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        self._sink._note("MAIL")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else (content or "").encode()
        message = cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        transport = server.transport
        self._sink._record(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=message,
                tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
                user=login.decode() if login is not None else None,
            )
        )
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self._sink._note("AUTH")
        ok = (
            self._sink.credentials is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == self._sink.credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


class _TrackingController(Controller):
    """Remembers each connection's SMTP protocol, so ``stop`` can hang up on clients still attached."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory(self) -> SMTP:
        protocol = super().factory()
        self.connections.add(protocol)
        return protocol

    async def hang_up(self) -> None:
        """Stop listening, drop every connection and let its tasks end, so nothing is left to leak."""
        assert self.server is not None
        self.server.close()
        for protocol in list(self.connections):
            for transport in (protocol.transport, protocol._original_transport):
                if transport is not None:
                    transport.abort()  # not close(): a TLS close waits for the peer's close_notify
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        if pending:
            await asyncio.wait(pending, timeout=2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 recording what it receives; ``stop``/``start`` keep the port.

    ``tls``: ``"none"``, ``"starttls"`` (offers STARTTLS; ``require_starttls`` refuses mail without
    it) or ``"smtps"`` (TLS from the first byte). ``credentials`` advertises AUTH and accepts that
    user and password; AUTH is only offered over TLS unless ``auth_require_tls=False``.
    """

    def __init__(
        self,
        *,
        tls: Tls = "none",
        certs: Certs | None = None,
        require_starttls: bool = False,
        credentials: tuple[str, str] | None = None,
        auth_require_tls: bool = True,
        port: int | None = None,
    ) -> None:
        if tls != "none" and certs is None:
            raise ValueError("a TLS sink needs certs")
        self.tls = tls
        self.certs = certs
        self.require_starttls = require_starttls
        self.credentials = credentials
        self.auth_require_tls = auth_require_tls
        self.host = HOST
        self.port = port or free_port()
        self._condition = threading.Condition()
        self._received: list[Received] = []
        self._events: list[str] = []
        self._controller: _TrackingController | None = None

    # -- life cycle -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpSink:
        """Listen (again) on ``self.port``; what was received before is kept."""
        if self._controller is not None:
            return self
        handler = _Handler(self)
        controller = _TrackingController(
            handler, hostname=self.host, port=self.port, **self._smtp_options(handler)
        )
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)
            if not controller.loop.is_closed():  # it failed to bind, so its thread never closed the loop
                controller.loop.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        """Hang up on every client and close the port: connecting now is refused until ``start``."""
        controller, self._controller = self._controller, None
        if controller is None:
            return
        asyncio.run_coroutine_threadsafe(controller.hang_up(), controller.loop).result(timeout=5)
        controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _smtp_options(self, handler: _Handler) -> dict[str, Any]:
        options: dict[str, Any] = {
            "server_hostname": "localhost",  # else aiosmtpd calls socket.getfqdn() for every connection
            "authenticator": handler.authenticate,
            "auth_require_tls": self.auth_require_tls,
        }
        if self.tls == "starttls":
            assert self.certs is not None
            options.update(tls_context=self.certs.server_context(), require_starttls=self.require_starttls)
        elif self.tls == "smtps":
            assert self.certs is not None
            # aiosmtpd only counts STARTTLS as encryption; under implicit TLS it would refuse every
            # AUTH with "538 Encryption required", so it must be told TLS is not needed (it is there).
            options.update(ssl_context=self.certs.server_context(), auth_require_tls=False)
        return options

    # -- what arrived ------------------------------------------------------------------------------

    def _record(self, received: Received) -> None:
        with self._condition:
            self._received.append(received)
            self._events.append("DATA")
            self._condition.notify_all()

    def _note(self, event: str) -> None:
        with self._condition:
            self._events.append(event)

    @property
    def received(self) -> list[Received]:
        with self._condition:
            return list(self._received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [received.message for received in self.received]

    @property
    def events(self) -> list[str]:
        """The commands the handler saw, in order: EHLO, STARTTLS, AUTH, MAIL, DATA."""
        with self._condition:
            return list(self._events)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """Block until ``count`` messages have arrived in all (a condition wait, no polling)."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._received) >= count, timeout):
                raise AssertionError(
                    f"expected {count} messages within {timeout} s, got {len(self._received)}"
                )
            return list(self._received)

    def clear(self) -> None:
        with self._condition:
            self._received.clear()
            self._events.clear()

    def url(
        self, scheme: str | None = None, *, username: str | None = None, password: str | None = None
    ) -> str:
        """A ``FLASK_MAIL_URL`` for this sink (the scheme follows its mode unless given)."""
        scheme = scheme or {"none": "smtp", "starttls": "smtp+starttls", "smtps": "smtps"}[self.tls]
        userinfo = f"{quote(username, safe='')}:{quote(password or '', safe='')}@" if username else ""
        return f"{scheme}://{userinfo}{self.host}:{self.port}"


def text_of(message: EmailMessage) -> str:
    """The plain-text part (the whole message when it is not multipart)."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the message has no text/plain part"
    return cast(str, cast(EmailMessage, part).get_content())


def link_in(message: EmailMessage) -> str:
    """The first http(s) link in the text part, or, failing that, the bare one-time token."""
    text = text_of(message)
    link = re.search(r"https?://[^\s<>\"']+", text)
    if link is not None:
        return link.group(0).rstrip(".,;:)")
    return token_in(message)


def token_in(message: EmailMessage) -> str:
    """The one-time token: from a ``#reset=``/``#verify=``/``#email=`` link, else standing alone."""
    text = text_of(message)
    found = re.search(rf"#(?:reset|verify|email)=({_TOKEN})(?![A-Za-z0-9_-])", text) or re.search(
        rf"(?<![A-Za-z0-9_=-])({_TOKEN})(?![A-Za-z0-9_-])", text
    )
    assert found is not None, "no link or token in the message's text part"
    return found.group(1)
