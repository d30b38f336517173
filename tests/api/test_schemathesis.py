"""Schemathesis fuzzes every operation of the service's own OpenAPI document through the WSGI app (no
network): once with no token and once as an admin. No answer may be a 5xx, and every answer must use a
documented status, a documented content type and the documented body schema.

schemathesis parametrizes at collection time, so the document is read then, from an app on a throwaway
SQLite file; the requests go to a fresh app on the test database, built once for this module (a
per-test fixture would be rebuilt for every generated example). ``schemathesis.pytest.from_fixture``
would defer both, but schemathesis 4.32.5's lazy loader reads ``request.node._nodeid``, which pytest 9
no longer has.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authsvc import create_app
from authsvc.db import get_engine, session_scope
from authsvc.models import Role
from authsvc.security import PasswordHasher
from authsvc.services import users
from tests.conftest import build_app, login, make_settings, unique_name
from tests.helpers import PASSWORD, bearer

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Bounded (this file: ~15 s on SQLite, ~30 s on PostgreSQL) and reproducible: the same examples each run,
# no example database replaying old failures, no per-example deadline (bcrypt and PostgreSQL vary).
FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None)


def _served_document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(make_settings(Path(tmp), database_url=f"sqlite:///{tmp}/openapi.sqlite3"))
        response = app.test_client().get("/openapi.json")
        assert response.status_code == 200
        document = response.get_json()
        get_engine(app).dispose()
    return document


schema = schemathesis.openapi.from_dict(_served_document())


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app under test (throttling off, as make_settings sets it), on a fresh database."""
    app = build_app(make_settings(tmp_path_factory.mktemp("schemathesis")))
    yield app
    get_engine(app).dispose()


def new_admin_token(app: Flask) -> str:
    """A new admin and a live access token for one example.

    Examples may log out (every scope), change the password, demote, deactivate or delete users, so
    a token kept across examples would soon be revoked and the run would quietly test only 401s.
    """
    username = unique_name("fuzzadmin")
    with app.app_context(), session_scope(get_engine(app)) as session:
        users.create_user(
            session=session,
            hasher=PasswordHasher(4),
            username=username,
            password=PASSWORD,
            email=f"{username}@example.com",
            role=Role.ADMIN,
        )
    return login(app.test_client(), username)["access_token"]


@schema.parametrize()
@FUZZ
def test_without_a_token(case: schemathesis.Case, service: Flask) -> None:
    case.call_and_validate(app=service, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_as_admin(case: schemathesis.Case, service: Flask) -> None:
    case.call_and_validate(app=service, headers=bearer(new_admin_token(service)), checks=CHECKS)


# --- what this run first found, reduced to requests ------------------------------------------------------


@pytest.mark.parametrize(
    "user_id",
    [2**31 - 1, 2**31, 2**63 - 1, 2**63, 10**30],
    ids=["int4-max", "int4-max+1", "int8-max", "int8-max+1", "10**30"],
)
@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PATCH", {"is_active": True}), ("DELETE", None)],
    ids=["GET", "PATCH", "DELETE"],
)
def test_user_id_beyond_the_database_integer_is_not_found(client, admin_tokens, user_id, method, body):
    """The route takes any digits, the column is a 4-byte (PostgreSQL) or 8-byte (SQLite) INTEGER.

    These ids once answered 500 (integer out of range / Python int too large) instead of 404.
    """
    _, tokens = admin_tokens
    response = client.open(
        f"/api/users/{user_id}", method=method, json=body, headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 404, response.get_json()
    assert response.get_json() == {"detail": "User not found.", "code": "not_found"}
