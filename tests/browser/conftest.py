"""Browser fixtures: the app on a real port, and headless Chromium driven by Playwright.

``.ci/run`` installs Debian's chromium; elsewhere every browser test skips, saying why.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from authsvc import mail
from authsvc.db import get_engine, session_scope
from authsvc.extensions import get_hasher
from authsvc.services import users
from tests.conftest import build_app, make_settings
from tests.helpers import PASSWORD
from tests.mailserver import SmtpSink
from tests.system.conftest import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """The app on a real port, in development mode (cookies may drop Secure on http://127.0.0.1)."""
    yield from serve(tmp_path, "development")


@pytest.fixture
def secure_live_server(tmp_path: Path) -> Iterator[str]:
    """The same outside development: Secure cookies with the ``__Host-``/``__Secure-`` names, which
    Chromium accepts on http://127.0.0.1 because it counts loopback as a secure context."""
    yield from serve(tmp_path, "testing")


@pytest.fixture
def mail_live_server(tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[str]:
    """The development server mailing ``smtp_sink`` for real, with its background sender on (as
    ``flask run`` has it), and FLASK_PUBLIC_URL its own origin: mailed links open its ``/demo``."""
    port = free_port()
    yield from serve(
        tmp_path,
        "development",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        mail_url=smtp_sink.url(),
        mail_send_in_background=True,
    )


def serve(tmp_path: Path, environment: str, *, port: int | None = None, **overrides: Any) -> Iterator[str]:
    port = port or free_port()
    origin = f"http://127.0.0.1:{port}"
    app = build_app(make_settings(tmp_path, environment=environment, cors_origins=origin, **overrides))
    with app.app_context():
        with session_scope(get_engine(app)) as session:
            users.create_user(
                session=session,
                hasher=get_hasher(),
                username="ada",
                password=PASSWORD,
                email="ada@example.com",
            )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield origin
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    mail.get_mail(app).sender.stop()  # a no-op unless the server mailed something in the background
    get_engine(app).dispose()


@pytest.fixture
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason="needs Debian's chromium (apt-get install chromium; .ci/run does)")
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(skip)
