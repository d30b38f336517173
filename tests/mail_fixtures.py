"""pytest fixtures for mail: a real SMTP sink (``tests/mailserver.py``) and the certificates it needs.

- ``smtp_sink``: a plain sink, started, no AUTH. ``make_smtp_sink(**options)`` builds any other
  (``tls="starttls"|"smtps"``, ``require_starttls``, ``credentials``, ``auth_require_tls``); a TLS
  sink makes ``ssl.create_default_context()`` trust the test CA for the rest of the test.
- ``trust_smtp_ca``: points ``SSL_CERT_FILE`` at the test CA (``smtp_certs``, made once a session).
- ``silent_smtp_port``: a port that accepts TCP and never says a word; ``closed_smtp_port``: a port
  nothing listens on.

Every sink is stopped at teardown, leaving no thread or socket behind.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.mailserver import HOST, Certs, SmtpSink, free_port, make_certs


@pytest.fixture(scope="session")
def smtp_certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("smtp-certs"))


@pytest.fixture
def trust_smtp_ca(smtp_certs: Certs, monkeypatch: pytest.MonkeyPatch) -> Certs:
    """Only the test CA is trusted: OpenSSL reads SSL_CERT_FILE each time a default context loads."""
    monkeypatch.setenv("SSL_CERT_FILE", os.fspath(smtp_certs.ca))
    return smtp_certs


@pytest.fixture
def make_smtp_sink(smtp_certs: Certs, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SmtpSink]]:
    sinks: list[SmtpSink] = []

    def make(**options: Any) -> SmtpSink:
        if options.get("tls", "none") != "none":
            options.setdefault("certs", smtp_certs)
            monkeypatch.setenv("SSL_CERT_FILE", os.fspath(smtp_certs.ca))
        sink = SmtpSink(**options)
        sinks.append(sink)
        return sink.start()

    yield make
    for sink in sinks:
        sink.stop()


@pytest.fixture
def smtp_sink(make_smtp_sink: Callable[..., SmtpSink]) -> SmtpSink:
    return make_smtp_sink()


@pytest.fixture
def silent_smtp_port() -> Iterator[int]:
    """The kernel completes the handshake from the listen backlog; nobody ever accepts or speaks."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


@pytest.fixture
def closed_smtp_port() -> int:
    return free_port()
