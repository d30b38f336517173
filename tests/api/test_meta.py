"""docs/api.md: ``GET /`` and ``GET /health``, including a database that cannot be reached."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import urlparse

import pytest
from flask import Flask

from authsvc import create_app
from authsvc.db import get_engine
from authsvc.models import utcnow
from authsvc.security import TokenCodec
from tests.conftest import make_settings
from tests.helpers import PASSWORD, bearer

NOWHERE = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
MAIN_ENDPOINTS = {
    "/api/auth/register",
    "/api/auth/login",
    "/api/auth/whoami",
    "/api/auth/refresh",
    "/api/auth/logout",
    "/api/users/all",
    "/token/",
    "/list/",
    "/health",
}
QUICKLY = 5.0  # seconds; connection refused must not turn into a long hang


def link_paths(links):
    values = links.values() if isinstance(links, dict) else links
    return {urlparse(value).path for value in values if isinstance(value, str)}


def assert_recent_utc(stamp):
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0)
    assert abs(moment - utcnow()) < timedelta(minutes=5)


# --- GET / ------------------------------------------------------------------------------------------


def test_index_welcomes(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["message"] == "Welcome to authsvc"
    assert MAIN_ENDPOINTS <= link_paths(body["links"])


def test_index_links_lead_somewhere(client):
    for path in link_paths(client.get("/").get_json()["links"]):
        response = client.get(path)
        assert response.status_code != 404, path
        assert response.status_code < 500, path


# --- GET /health ------------------------------------------------------------------------------------


def test_health_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"status", "message", "timestamp", "database", "rate_limit_storage"}
    assert (body["status"], body["message"], body["database"]) == ("success", "OK", "ok")
    assert body["rate_limit_storage"] == "off"  # the suite's apps throttle nothing
    assert_recent_utc(body["timestamp"])


def test_health_needs_no_token(client):
    response = client.get("/health", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 200


# --- the database is down ---------------------------------------------------------------------------


@pytest.fixture
def down_app(tmp_path) -> Iterator[Flask]:
    """create_app, not build_app: nothing may touch the (missing) database before a request."""
    app = create_app(make_settings(tmp_path, database_url=NOWHERE))
    yield app
    get_engine(app).dispose()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response, elapsed):
    assert elapsed < QUICKLY
    assert response.status_code == 503, response.data
    assert response.mimetype == "application/json"
    assert b"127.0.0.1" not in response.data and b"nowhere" not in response.data
    assert PASSWORD.encode() not in response.data
    body = response.get_json()
    assert body["code"] == "database_unavailable"
    assert isinstance(body["detail"], str) and body["detail"]
    assert set(body) == {"detail", "code"}


def test_health_reports_an_unreachable_database(down_app):
    response, elapsed = timed(lambda: down_app.test_client().get("/health"))
    assert elapsed < QUICKLY
    assert response.status_code == 503
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"status", "message", "timestamp", "database", "rate_limit_storage"}
    assert (body["status"], body["message"], body["database"]) == (
        "error",
        "Database unavailable",
        "unavailable",
    )
    assert_recent_utc(body["timestamp"])
    assert b"127.0.0.1" not in response.data


def test_index_still_answers_without_a_database(down_app):
    response, elapsed = timed(lambda: down_app.test_client().get("/"))
    assert elapsed < QUICKLY
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/login", {"username": "alice", "password": PASSWORD}),
        ("/api/auth/register", {"username": "alice", "email": "alice@example.com", "password": PASSWORD}),
        ("/token/", {"username": "alice", "password": PASSWORD}),
    ],
)
def test_sign_in_paths_answer_503_without_a_database(down_app, path, body):
    client = down_app.test_client()
    response, elapsed = timed(lambda: client.post(path, json=body))
    assert_unavailable(response, elapsed)


@pytest.mark.parametrize("path", ["/api/auth/whoami", "/list/", "/api/users/1", "/api/auth/logout"])
def test_token_checks_answer_503_without_a_database(tmp_path, down_app, path):
    # A perfectly valid token: only the database lookup can fail.
    settings = make_settings(tmp_path)
    token = TokenCodec(
        secret=settings.jwt_secret_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_lifetime=settings.access_lifetime,
        refresh_lifetime=settings.refresh_lifetime,
    ).encode(subject="1", token_type="access", session_id=uuid.uuid4().hex, now=utcnow())
    client = down_app.test_client()
    response, elapsed = timed(lambda: client.get(path, headers=bearer(token.token)))
    assert_unavailable(response, elapsed)


def test_the_version_is_the_packages_in_both_places(client):
    """One source for the version: the installed package's metadata, in / and in /openapi.json."""
    from importlib.metadata import version

    assert client.get("/").get_json()["version"] == version("authsvc")
    assert client.get("/openapi.json").get_json()["info"]["version"] == version("authsvc")
