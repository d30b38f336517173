"""Test helpers that are not fixtures: one copy of the section 1 bodies, an API wrapper, and small
functions several test modules share (so no test module imports another)."""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authsvc.db import get_engine, session_scope
from authsvc.models import User
from authsvc.security import PasswordHasher
from authsvc.services import users

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery"
GOOD_PASSWORD = "tangerine-lighthouse-42"  # another strong password, for changes and operator commands

# docs/api.md's compatibility contract, byte for byte: clients compare these with ==.
BAD_LOGIN = b'{"detail": "Invalid username or password"}'
MISSING_HEADER = b'{"msg": "Missing Authorization Header"}'
BAD_TOKEN = b'{"detail": "Invalid username or password."}'
BAD_REFRESH = b'{"detail": "Token is invalid or expired"}'

# A section 2 user record's keys, in order (API.md sections 2 and 6); /list/ shows the first six.
RECORD_KEYS = ["id", "username", "email", "role", "is_active", "created_at", "email_verified"]

Invoke = Callable[..., Result]
_addresses = (f"198.51.100.{n}" for n in itertools.cycle(range(1, 255)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(client_id: str, client_secret: str) -> dict[str, str]:
    """HTTP Basic as RFC 6749 section 2.3.1 has a client send it: each part form-urlencoded first."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


@dataclass(frozen=True)
class Api:
    """The calls most tests make, through Flask's test client; each returns the response as is."""

    client: FlaskClient

    def register(self, username: str, *, password: str = PASSWORD, email: str | None = None) -> TestResponse:
        body = {
            "username": username,
            "email": email or f"{username.lower()}@example.com",
            "password": password,
        }
        return self.client.post("/api/auth/register", json=body)

    def sign_in(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        """Sign in and return the body; the sign-in must succeed."""
        response = self.client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def refresh(self, refresh_token: str) -> TestResponse:
        return self.client.post("/api/auth/refresh", headers=bearer(refresh_token))

    def whoami(self, access_token: str) -> TestResponse:
        return self.client.get("/api/auth/whoami", headers=bearer(access_token))

    def logout(self, access_token: str, scope: str = "local") -> TestResponse:
        return self.client.post(f"/api/auth/logout?scope={scope}", headers=bearer(access_token))

    def introspect(self, token: str, credentials: Any, *, hint: str | None = None) -> TestResponse:
        """``POST /api/auth/introspect`` form-encoded, as RFC 7662 sends it, with a service client's
        credentials (anything with ``client_id`` and ``client_secret``)."""
        form = {"token": token} | ({"token_type_hint": hint} if hint is not None else {})
        return self.client.post(
            "/api/auth/introspect",
            data=form,
            headers=basic(credentials.client_id, credentials.client_secret),
        )

    def is_active(self, token: str, credentials: Any) -> bool:
        """What introspection says of the token; the call itself must succeed."""
        response = self.introspect(token, credentials)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body == {"active": False} or body["active"] is True, body
        return bool(body["active"])


def sign_in_from(
    client: FlaskClient,
    username: str,
    password: str = "wrong-password",
    *,
    path: str = "/api/auth/login",
    ip: str | None = None,
) -> TestResponse:
    """A sign-in attempt from its own client address (a fresh one unless ``ip`` is given)."""
    return client.post(
        path,
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": ip or next(_addresses)},
    )


def find(app: Flask, username: str) -> User | None:
    with app.app_context(), session_scope(get_engine(app)) as session:
        return users.find_by_username(session, username)


def password_works(app: Flask, username: str, password: str) -> bool:
    user = find(app, username)
    return user is not None and PasswordHasher(4).verify(password, user.password_hash)


def sample_value(variable: str) -> str:
    """The value ``.env.sample`` shows for ``variable`` (what an operator gets by uncommenting it)."""
    found = re.search(rf"^# {variable}=(.*)$", (ROOT / ".env.sample").read_text(), re.MULTILINE)
    assert found, f"{variable} missing from .env.sample"
    return found.group(1).strip()
