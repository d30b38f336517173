"""/health tells the truth: a database nobody migrated is not healthy, and throttling that lost its
shared storage says so. Requests that need a missing table get 503, never a 500."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bench.proxy import TcpProxy

from authsvc import create_app, migrate
from authsvc.db import get_engine
from authsvc.services.health import head_revision
from tests.conftest import make_settings
from tests.helpers import PASSWORD

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
CLOSED_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there: refused at once


def health(app):
    response = app.test_client().get("/health")
    return response.status_code, response.get_json()


@pytest.fixture
def unmigrated(make_app):
    """A database that answers but holds no schema at all (a deploy that skipped flask db upgrade)."""
    app = make_app()
    migrate.downgrade(get_engine(app), "base")
    return app


def test_a_database_that_was_never_migrated_is_not_healthy(unmigrated):
    status, body = health(unmigrated)
    assert status == 503
    assert (body["status"], body["database"]) == ("error", "not_migrated")
    assert head_revision() in body["message"] and "flask db upgrade" in body["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "post",
            "/api/auth/register",
            {"username": "nobody", "email": "n@example.com", "password": PASSWORD},
        ),
        ("post", "/api/auth/login", {"username": "nobody", "password": PASSWORD}),
        ("post", "/token/", {"username": "nobody", "password": PASSWORD}),
    ],
)
def test_requests_that_need_a_missing_table_are_503_not_500(unmigrated, method, path, body):
    response = getattr(unmigrated.test_client(), method)(path, json=body)
    assert response.status_code == 503, response.data
    assert response.get_json()["code"] == "database_unavailable"


def test_a_schema_behind_the_code_is_not_healthy(make_app):
    app = make_app()
    migrate.downgrade(get_engine(app), "0003")
    status, body = health(app)
    assert (status, body["database"]) == (503, "not_migrated")
    assert "0003" in body["message"] and head_revision() in body["message"]


def test_throttling_in_memory_is_reported_as_memory(make_app):
    app = make_app(ratelimit_enabled=True)
    status, body = health(app)
    assert (status, body["rate_limit_storage"]) == (200, "memory")


def test_an_unreachable_redis_is_logged_at_start_and_shown_as_fallback(make_app, caplog):
    caplog.set_level(logging.WARNING, logger="authsvc")
    app = make_app(ratelimit_enabled=True, ratelimit_storage_uri=CLOSED_REDIS)
    assert any("rate limit storage unreachable" in record.getMessage() for record in caplog.records)
    status, body = health(app)
    assert (status, body["rate_limit_storage"]) == (200, "fallback")
    # sign-ins still work, counted in this process meanwhile
    client = app.test_client()
    statuses = [
        client.post("/api/auth/login", json={"username": "x", "password": "wrong-pass"}).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]


def test_fail_closed_refuses_password_checks_while_redis_is_unreachable(make_app):
    app = make_app(ratelimit_enabled=True, ratelimit_storage_uri=CLOSED_REDIS, ratelimit_fail_closed=True)
    status, body = health(app)
    assert (status, body["rate_limit_storage"]) == (200, "unavailable")
    client = app.test_client()
    for path, payload in [
        ("/api/auth/login", {"username": "x", "password": "wrong-pass"}),
        ("/api/auth/register", {"username": "y", "email": "y@example.com", "password": PASSWORD}),
    ]:
        response = client.post(path, json=payload)
        assert response.status_code == 503, (path, response.data)
        assert response.get_json()["code"] == "rate_limit_unavailable"


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis: set TEST_REDIS_URL=redis://...")
def test_a_reachable_redis_is_reported_ok(make_app):
    app = make_app(ratelimit_enabled=True, ratelimit_storage_uri=TEST_REDIS_URL)
    assert health(app)[1]["rate_limit_storage"] == "ok"


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis: set TEST_REDIS_URL=redis://...")
def test_redis_lost_and_back_while_serving_is_logged_and_shown(make_app, caplog):
    """The soak's fault (bench/soak): Redis goes away under a running app, then comes back. Each change
    is one log line and shows in /health; sign-ins keep working meanwhile, counted in this process."""
    caplog.set_level(logging.INFO, logger="authsvc")
    target = urlsplit(TEST_REDIS_URL)
    wire = TcpProxy((target.hostname or "127.0.0.1", target.port or 6379))
    wire.start()
    try:
        storage = f"redis://127.0.0.1:{wire.port}{target.path}"
        app = make_app(ratelimit_enabled=True, ratelimit_storage_uri=storage)
        client = app.test_client()
        status, body = health(app)
        assert (status, body["rate_limit_storage"]) == (200, "ok")

        wire.cut()
        status, body = health(app)
        assert (status, body["rate_limit_storage"]) == (200, "fallback")
        login = {"username": "nobody-here", "password": "wrong-pass"}
        assert client.post("/api/auth/login", json=login).status_code == 401
        lost = [r.getMessage() for r in caplog.records if "rate limit storage unreachable" in r.getMessage()]
        assert lost == ["rate limit storage unreachable: counting password checks in memory"]

        wire.start()  # Redis is back, on the same address
        status, body = health(app)
        assert (status, body["rate_limit_storage"]) == (200, "ok")
        back = [r for r in caplog.records if r.getMessage() == "rate limit storage reachable again"]
        assert [r.levelno for r in back] == [logging.WARNING]  # as visible as the outage line
        assert client.post("/api/auth/login", json=login).status_code == 401
    finally:
        wire.cut()


def test_a_database_outage_logs_the_drivers_reason(tmp_path, caplog):
    """Not just "OperationalError": what an operator can act on, and no credentials."""
    caplog.set_level(logging.WARNING, logger="authsvc")
    app = create_app(
        make_settings(tmp_path, database_url="postgresql+psycopg://postgres:s3cret@127.0.0.1:1/x")
    )
    response = app.test_client().post("/api/auth/login", json={"username": "x", "password": PASSWORD})
    assert response.status_code == 503
    lines = [record.getMessage() for record in caplog.records]
    assert any("connection refused" in line for line in lines), lines
    assert not any("s3cret" in line for line in lines)
    get_engine(app).dispose()


def test_throttlings_fallback_and_recovery_reach_the_log_unconfigured(tmp_path):
    """With logging left unconfigured (as under gunicorn), both halves of throttling tell the log when
    their storage is lost: the password-check budgets (authsvc) and Flask-Limiter's limits, whose own
    lines would otherwise die in its NullHandler."""
    script = (
        "from authsvc import create_app\n"
        "from tests.conftest import make_settings\n"
        "import sys, pathlib\n"
        "folder = pathlib.Path(sys.argv[1])\n"
        "settings = make_settings(folder, ratelimit_enabled=True, ratelimit_storage_uri=sys.argv[2],\n"
        "                         database_url=f'sqlite:///{folder}/x.db')\n"
        "app = create_app(settings)\n"
        "body = {'username': 'newcomer', 'email': 'newcomer@example.com', 'password': sys.argv[3]}\n"
        "print(app.test_client().post('/api/auth/register', json=body).status_code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), CLOSED_REDIS, PASSWORD],
        capture_output=True, text=True, timeout=60, check=False, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.stdout.strip() == "201", result.stderr
    assert "rate limit storage unreachable: counting password checks in memory" in result.stderr
    assert "flask-limiter WARNING: Rate limit storage unreachable - falling back to in-memory storage" in (
        result.stderr
    )
