"""pytest fixtures for suites that test against a real authsvc: ``authsvc_server``, ``authsvc_user``.

Registered through the ``pytest11`` entry point, so every suite of an environment with this package
loads it: it defines fixtures and nothing else, and imports nothing beyond the standard library and
pytest until one of its fixtures is used. Where the authsvc server package is not installed, the
fixtures skip, saying so.

Configure the session's server by overriding ``authsvc_server_settings`` (``FLASK_*`` variables);
a module that needs a server of its own overrides ``authsvc_server`` with
``authsvc_client.testing.running_authsvc``, and ``authsvc_user`` follows it.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx

    from authsvc_client.auth import AuthsvcAuth
    from authsvc_client.testing import AuthsvcServer

_numbers = itertools.count(1)


@dataclass
class AuthsvcUser:
    """A user of the test server: credentials, id, and a client already signed in as them."""

    username: str
    password: str
    email: str
    id: int
    auth: AuthsvcAuth
    client: httpx.Client


@pytest.fixture(scope="session")
def authsvc_server_settings() -> dict[str, str]:
    """``FLASK_*`` settings for the session's ``authsvc_server`` (override in a conftest.py)."""
    return {}


@pytest.fixture(scope="session")
def authsvc_server(
    tmp_path_factory: pytest.TempPathFactory, authsvc_server_settings: dict[str, str]
) -> Iterator[AuthsvcServer]:
    """A real authsvc on a free loopback port with a throwaway SQLite database, for the session."""
    from authsvc_client import testing

    if not testing.server_installed():
        pytest.skip("authsvc_server needs the authsvc server package installed (pip install authsvc)")
    with testing.running_authsvc(tmp_path_factory.mktemp("authsvc"), authsvc_server_settings) as server:
        yield server


@pytest.fixture
def authsvc_user(authsvc_server: AuthsvcServer) -> Iterator[Callable[..., AuthsvcUser]]:
    """A factory: ``authsvc_user()`` registers a user (``admin=True``: an admin made through the
    API), signs in, and returns an ``AuthsvcUser``; its clients are closed after the test."""
    import httpx

    from authsvc_client.auth import AuthsvcAuth

    made: list[AuthsvcUser] = []

    def make(username: str | None = None, password: str | None = None, *, admin: bool = False) -> AuthsvcUser:
        username = username or f"user{next(_numbers)}-{secrets.token_hex(4)}"
        password = password or secrets.token_urlsafe(16)
        email = f"{username}@example.com"
        base = authsvc_server.base_url
        authsvc_server.create_user(username, password, email=email, admin=admin)
        auth = AuthsvcAuth(base, username, password)
        client = httpx.Client(base_url=base, auth=auth, timeout=10)
        record = client.get("/api/auth/whoami").raise_for_status().json()  # signs in
        user = AuthsvcUser(username, password, email, int(record["id"]), auth, client)
        made.append(user)
        return user

    yield make
    for user in made:
        user.client.close()
