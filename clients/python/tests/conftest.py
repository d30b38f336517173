"""The client's suite runs against real authsvc servers started by its own pytest plugin.

No ``__init__.py`` here: the repository root's suite is the package ``tests``, and a second one of
that name would collide when ``uv run pytest`` at the root collects both. So every module here has a
name of its own, and helpers live in fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from authsvc_client import TokenVerifier
from authsvc_client.testing import AuthsvcServer


@pytest.fixture(scope="session")
def authsvc_server_settings() -> Iterator[dict[str, str]]:
    """The session's server reloads its keys every second, so a rotation signs with the new key at once.

    When the root suite runs on PostgreSQL (``TEST_DATABASE_URL``), so does this server, in a schema of
    its own that is dropped afterwards; the modules' own servers keep their SQLite files.
    """
    settings = {"FLASK_JWT_KEYS_RELOAD_INTERVAL": "1"}
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        yield settings
        return
    import psycopg  # the server's driver: installed wherever the server is

    schema = f"authsvc_client_{os.getpid()}"
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in url else "?"
    yield {**settings, "FLASK_DATABASE_URL": f"{url}{separator}options=-csearch_path%3D{schema}"}
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def service_client(authsvc_server: AuthsvcServer) -> tuple[str, str]:
    """A service client of the session's server (``flask clients create``): id and secret."""
    return authsvc_server.create_service_client("orders-api")


@pytest.fixture
def verifier(authsvc_server: AuthsvcServer) -> Iterator[TokenVerifier]:
    """A verifier of the session's server's tokens, local only."""
    with TokenVerifier(authsvc_server.jwks_url, authsvc_server.issuer, authsvc_server.audience) as made:
        yield made


@pytest.fixture
def introspecting(authsvc_server: AuthsvcServer, service_client: tuple[str, str]) -> Iterator[TokenVerifier]:
    """A verifier that also asks authsvc (and so knows roles), answers cached 5 s."""
    with TokenVerifier(
        authsvc_server.jwks_url,
        authsvc_server.issuer,
        authsvc_server.audience,
        introspection=(authsvc_server.introspection_url, *service_client),
    ) as made:
        yield made
