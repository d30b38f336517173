"""The database goes away and comes back: 503 quickly while it is gone, recovery with no restart."""

from __future__ import annotations

import gc
import os
import time

import pytest
from bench.proxy import TcpProxy
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from authsvc.db import get_engine
from tests.conftest import TEST_DATABASE_URL, build_app, login, make_settings
from tests.helpers import PASSWORD, bearer
from tests.system.conftest import needs_postgres

pytestmark = needs_postgres


@pytest.fixture
def proxy():
    url = make_url(TEST_DATABASE_URL)
    wire = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    wire.start()
    yield wire
    wire.cut()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.parametrize("pre_ping", [True, False], ids=["pre-ping", "no-pre-ping"])
def test_database_outage_gives_503_then_recovers_without_restart(tmp_path, proxy, pre_ping):
    url = make_url(TEST_DATABASE_URL).set(port=proxy.port).render_as_string(hide_password=False)
    app = build_app(make_settings(tmp_path, database_url=url, db_pool_pre_ping=pre_ping))
    client = app.test_client()
    client.post(
        "/api/auth/register", json={"username": "gus", "email": "gus@example.com", "password": PASSWORD}
    )
    tokens = login(client, "gus")
    assert client.get("/health").status_code == 200

    proxy.cut()
    for method, path, kwargs in [
        ("get", "/api/auth/whoami", {"headers": bearer(tokens["access_token"])}),
        ("get", "/list/", {"headers": bearer(tokens["access_token"])}),
        ("post", "/api/auth/login", {"json": {"username": "gus", "password": PASSWORD}}),
        ("post", "/token/", {"json": {"username": "gus", "password": PASSWORD}}),
        ("post", "/api/auth/refresh", {"headers": bearer(tokens["refresh_token"])}),
    ]:
        response, seconds = timed(lambda: getattr(client, method)(path, **kwargs))  # noqa: B023
        assert response.status_code == 503, (path, response.data)
        assert response.get_json() == {
            "detail": "The database is unavailable; try again shortly.",
            "code": "database_unavailable",
        }
        assert seconds < 10, f"{path} hung for {seconds:.1f}s"  # bounded by the connect timeout, not hung
    health, seconds = timed(lambda: client.get("/health"))
    assert health.status_code == 503
    assert health.get_json()["database"] == "unavailable"

    proxy.start()  # the database is back, on the same address
    assert client.get("/health").status_code == 200
    assert client.get("/api/auth/whoami", headers=bearer(tokens["access_token"])).status_code == 200
    assert client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200
    get_engine(app).dispose()
    gc.collect()  # close the connections the outage broke now, inside the test, not at interpreter exit


def _with_application_name(url: str, name: str) -> str:
    parsed = make_url(url)
    options = " ".join(filter(None, [parsed.query.get("options"), f"-c application_name={name}"]))
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def _terminate(application_name: str) -> int:
    """End every backend of this app's pool, waiting until each has gone (PostgreSQL 14+)."""
    engine = create_engine(make_url(TEST_DATABASE_URL))
    with engine.begin() as connection:
        ended = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                " WHERE application_name = :name"
            ),
            {"name": application_name},
        ).scalar_one()
    engine.dispose()
    return int(ended)


@pytest.mark.parametrize("pre_ping", [True, False], ids=["pre-ping", "no-pre-ping"])
def test_connections_terminated_while_idle_are_replaced_without_failing_a_request(tmp_path, pre_ping):
    """A database restart or ``pg_terminate_backend`` ends the pooled connections while they sit idle;
    the pool must notice at checkout and reconnect, so no request pays for it with a 503."""
    name = f"authsvc-terminate-{os.getpid()}-{pre_ping}"
    url = _with_application_name(TEST_DATABASE_URL, name)
    app = build_app(make_settings(tmp_path, database_url=url, db_pool_pre_ping=pre_ping))
    client = app.test_client()
    client.post(
        "/api/auth/register", json={"username": "ida", "email": "ida@example.com", "password": PASSWORD}
    )
    tokens = login(client, "ida")
    access = bearer(tokens["access_token"])
    for _ in range(3):
        assert client.get("/list/", headers=access).status_code == 200

    assert _terminate(name) >= 1
    assert client.get("/api/auth/whoami", headers=access).status_code == 200
    assert client.get("/list/", headers=access).status_code == 200
    refreshed = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200, refreshed.data

    assert _terminate(name) >= 1
    assert client.post("/api/auth/login", json={"username": "ida", "password": PASSWORD}).status_code == 200
    get_engine(app).dispose()
    gc.collect()  # close the connections the termination broke now, inside the test, not in a later one
