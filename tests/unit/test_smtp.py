"""authsvc.smtp against a real SMTP server (tests/mailserver.py), never beyond 127.0.0.1."""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from authsvc.smtp import DeliveryFailed, MailServer, Scheme, credentials_allowed, parse_mail_url, send
from tests.mailserver import HOST, MAIL_PASSWORD, MAIL_USER, SmtpSink, link_in, token_in

SECRET = "hunter2-Zq9xSECRET"
TOKEN = "Ab3_-" * 8 + "xyz"  # 43 characters, the shape of secrets.token_urlsafe(32)
MakeSink = Callable[..., SmtpSink]


def make_message(to: str = "alice@example.com", subject: str = "Reset your password") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "no-reply@example.com"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(f"Open http://127.0.0.1:8000/demo#reset={TOKEN}\nor use the code {TOKEN}\n")
    return message


def server_for(sink: SmtpSink, scheme: str | None = None, **credentials: Any) -> MailServer:
    server = parse_mail_url(sink.url(scheme, **credentials))
    assert server is not None
    return server


# -- delivery ------------------------------------------------------------------------------------


def test_plain_delivery_arrives_with_its_recipient_and_subject(smtp_sink: SmtpSink) -> None:
    send(server_for(smtp_sink), make_message("bob@example.com", "Verify your address"), timeout=5)

    [received] = smtp_sink.wait_for(1)
    assert received.rcpt_tos == ("bob@example.com",)
    assert received.mail_from == "no-reply@example.com"
    assert received.message["Subject"] == "Verify your address"
    assert received.tls is False and received.user is None
    assert link_in(received.message) == f"http://127.0.0.1:8000/demo#reset={TOKEN}"
    assert token_in(received.message) == TOKEN


def test_smtp_upgrades_with_starttls_when_the_server_offers_it(make_smtp_sink: MakeSink) -> None:
    sink = make_smtp_sink(tls="starttls")

    send(server_for(sink, "smtp"), make_message(), timeout=5)

    [received] = sink.wait_for(1)
    assert received.tls is True
    assert sink.events == ["EHLO", "STARTTLS", "EHLO", "MAIL", "DATA"]


def test_starttls_scheme_refuses_a_server_without_starttls(smtp_sink: SmtpSink) -> None:
    with pytest.raises(DeliveryFailed, match="STARTTLS"):
        send(server_for(smtp_sink, "smtp+starttls"), make_message(), timeout=5)

    assert smtp_sink.received == []
    assert smtp_sink.events == ["EHLO"]  # refused before MAIL: nothing of the message went out


def test_starttls_scheme_delivers_over_starttls(make_smtp_sink: MakeSink) -> None:
    sink = make_smtp_sink(tls="starttls", require_starttls=True)

    send(server_for(sink, "smtp+starttls"), make_message(), timeout=5)

    assert sink.wait_for(1)[0].tls is True


def test_smtps_delivers_over_implicit_tls(make_smtp_sink: MakeSink) -> None:
    sink = make_smtp_sink(tls="smtps")

    send(server_for(sink, "smtps"), make_message(), timeout=5)

    [received] = sink.wait_for(1)
    assert received.tls is True
    assert "STARTTLS" not in sink.events


@pytest.mark.parametrize(("tls", "scheme"), [("starttls", "smtp"), ("smtps", "smtps")])
def test_an_untrusted_certificate_fails_and_never_falls_back_to_plaintext(
    make_smtp_sink: MakeSink, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tls: str, scheme: str
) -> None:
    sink = make_smtp_sink(tls=tls)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))  # the test CA is not trusted

    with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
        send(server_for(sink, scheme), make_message(), timeout=5)

    assert sink.received == []
    assert "MAIL" not in sink.events


# -- credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tls", "scheme"), [("starttls", "smtp"), ("starttls", "smtp+starttls"), ("smtps", "smtps")]
)
def test_login_over_tls(make_smtp_sink: MakeSink, tls: str, scheme: str) -> None:
    sink = make_smtp_sink(tls=tls, credentials=(MAIL_USER, MAIL_PASSWORD))

    send(server_for(sink, scheme, username=MAIL_USER, password=MAIL_PASSWORD), make_message(), timeout=5)

    [received] = sink.wait_for(1)
    assert (received.tls, received.user) == (True, MAIL_USER)


def test_login_without_tls_is_allowed_to_a_loopback_host(make_smtp_sink: MakeSink) -> None:
    sink = make_smtp_sink(credentials=(MAIL_USER, MAIL_PASSWORD), auth_require_tls=False)

    send(server_for(sink, "smtp", username=MAIL_USER, password=MAIL_PASSWORD), make_message(), timeout=5)

    [received] = sink.wait_for(1)
    assert (received.tls, received.user) == (False, MAIL_USER)


def test_credentials_are_not_sent_unencrypted_to_a_host_that_is_not_loopback(
    make_smtp_sink: MakeSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sink advertises AUTH in the clear, so the refusal must be ours. smtplib dials the sink
    # whatever the name says, so no traffic leaves 127.0.0.1 while the code sees a remote host.
    sink = make_smtp_sink(credentials=(MAIL_USER, MAIL_PASSWORD), auth_require_tls=False)

    def dial_the_sink(self: smtplib.SMTP, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((HOST, sink.port), timeout)

    monkeypatch.setattr(smtplib.SMTP, "_get_socket", dial_the_sink)
    remote = MailServer("smtp", "mail.example.com", 587, MAIL_USER, MAIL_PASSWORD)

    with pytest.raises(DeliveryFailed, match="credentials") as failure:
        send(remote, make_message(), timeout=5)

    assert sink.events == ["EHLO"]  # no AUTH, no MAIL
    assert MAIL_PASSWORD not in str(failure.value)


@pytest.mark.parametrize(
    ("host", "encrypted", "allowed"),
    [
        ("mail.example.com", False, False),
        ("mail.example.com", True, True),
        ("10.0.0.1", False, False),
        ("localhost.example.com", False, False),
        ("127.0.0.1", False, True),
        ("127.8.9.10", False, True),
        ("::1", False, True),
        ("localhost", False, True),
        ("LocalHost.", False, True),
    ],
)
def test_credentials_allowed(host: str, encrypted: bool, allowed: bool) -> None:
    server = MailServer("smtp", host, 587, MAIL_USER, MAIL_PASSWORD)
    assert credentials_allowed(server, encrypted=encrypted) is allowed


def test_a_wrong_password_fails_without_echoing_it(make_smtp_sink: MakeSink) -> None:
    sink = make_smtp_sink(tls="starttls", credentials=(MAIL_USER, MAIL_PASSWORD))

    with pytest.raises(DeliveryFailed) as failure:
        send(server_for(sink, "smtp", username=MAIL_USER, password=SECRET), make_message(), timeout=5)

    assert failure.value.code == 535
    assert SECRET not in str(failure.value)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert sink.received == []


def test_the_password_stays_out_of_repr() -> None:
    server = MailServer("smtps", "mail.example.com", 465, MAIL_USER, SECRET)
    assert SECRET not in repr(server)
    assert MAIL_USER in repr(server)


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_a_server_that_never_speaks_times_out(silent_smtp_port: int, scheme: Scheme) -> None:
    started = time.monotonic()

    with pytest.raises(DeliveryFailed, match="timed out"):
        send(MailServer(scheme, HOST, silent_smtp_port), make_message(), timeout=0.5)

    assert time.monotonic() - started < 5  # a hang guard, not a benchmark


def test_a_closed_port_fails(closed_smtp_port: int) -> None:
    with pytest.raises(DeliveryFailed, match="ConnectionRefusedError"):
        send(MailServer("smtp", HOST, closed_smtp_port), make_message(), timeout=5)


def test_the_sink_goes_down_and_comes_back_on_the_same_port(smtp_sink: SmtpSink) -> None:
    server = server_for(smtp_sink)
    threads = threading.active_count()
    smtp_sink.stop()
    assert threading.active_count() == threads - 1

    with pytest.raises(DeliveryFailed, match="ConnectionRefusedError"):
        send(server, make_message(), timeout=5)

    smtp_sink.start()
    send(server, make_message(), timeout=5)
    assert len(smtp_sink.wait_for(1)) == 1


def test_wait_for_gives_up_after_its_timeout(smtp_sink: SmtpSink) -> None:
    with pytest.raises(AssertionError, match="expected 1 messages"):
        smtp_sink.wait_for(1, timeout=0.05)


# -- FLASK_MAIL_URL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("console://", None),
        ("CONSOLE://", None),
        ("smtp://mail.example.com", MailServer("smtp", "mail.example.com", 587)),
        ("SMTP://Mail.Example.com:2525/", MailServer("smtp", "mail.example.com", 2525)),
        ("smtp+starttls://relay:25", MailServer("smtp+starttls", "relay", 25)),
        ("smtps://mail.example.com", MailServer("smtps", "mail.example.com", 465)),
        ("smtps://[::1]:4650", MailServer("smtps", "::1", 4650)),
        ("smtp://u:p@127.0.0.1:1025", MailServer("smtp", "127.0.0.1", 1025, "u", "p")),
        (
            "smtp://me%40example.com:p%40ss%3Aw%2Frd@mail.example.com",
            MailServer("smtp", "mail.example.com", 587, "me@example.com", "p@ss:w/rd"),
        ),
    ],
)
def test_parse_mail_url(url: str, expected: MailServer | None) -> None:
    assert parse_mail_url(url) == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "no scheme"),
        ("mail.example.com:587", "no scheme"),
        ("console://log", "nothing after it"),
        ("http://mail.example.com", "unknown scheme 'http'"),
        ("smtp://", "no host"),
        ("smtp://:587", "no host"),
        ("smtp://mail.example.com:0", "port"),
        ("smtp://mail.example.com:65536", "port"),
        ("smtp://mail.example.com:+25", "port"),
        ("smtp://mail.example.com:smtp", "port"),
        ("smtp://mail.example.com/mail", "no path"),
        ("smtp://mail.example.com?tls=1", "no path"),
        ("smtp://mail.example.com#x", "no path"),
        ("smtp://[::1", "malformed host"),
        ("smtp://::1:25", "host"),
        ("smtp://mail example.com", "malformed host"),
        ("smtp://user@mail.example.com", "no password"),
        ("smtp://:pw@mail.example.com", "no user name"),
    ],
)
def test_parse_mail_url_refuses(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as refusal:
        parse_mail_url(url)
    assert "\n" not in str(refusal.value)


@pytest.mark.parametrize(
    "url",
    [
        f"smtpx://user:{SECRET}@mail.example.com",
        f"user:{SECRET}@mail.example.com",
        f"user:{SECRET}@host://x",
        f"smtp://user:{SECRET}@",
        f"smtp://user:{SECRET}@mail.example.com:99999",
        f"smtp://user:{SECRET}@mail.example.com:2x5",
        f"smtp://user:{SECRET}@mail.example.com/path",
        f"smtp://user:{SECRET}@mail.example.com?q=1",
        f"smtp://user:{SECRET}@[::1",
        f"smtp://user:{SECRET}@bad host",
        f"smtp://user:{SECRET[:4]}/{SECRET[4:]}@mail.example.com",  # an unescaped "/" in the password
        f"smtp://user:{SECRET[:4]}#{SECRET[4:]}@mail.example.com",
        f"smtp://user:{SECRET[:4]}?{SECRET[4:]}@mail.example.com",
        f"smtp://:{SECRET}@mail.example.com",
        f"console://user:{SECRET}@x",
    ],
)
def test_no_url_error_shows_the_password(url: str) -> None:
    with pytest.raises(ValueError) as refusal:
        parse_mail_url(url)
    message = str(refusal.value)
    for piece in (SECRET, SECRET[:4], SECRET[4:], url):
        assert piece not in message
    assert refusal.value.__cause__ is None and (
        refusal.value.__context__ is None or refusal.value.__suppress_context__
    )


@pytest.mark.parametrize("tls", ["none", "starttls", "smtps"])
def test_stop_hangs_up_on_a_client_still_connected(make_smtp_sink: MakeSink, tls: str) -> None:
    sink = make_smtp_sink(tls=tls)
    context = ssl.create_default_context()
    if tls == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(HOST, sink.port, timeout=5, context=context)
    else:
        client = smtplib.SMTP(HOST, sink.port, timeout=5)
    with client:
        if tls == "starttls":
            client.starttls(context=context)
        assert client.noop()[0] == 250

        sink.stop()  # returns at once, leaving neither thread nor socket behind

        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
