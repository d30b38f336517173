"""In production an unexpected error tells the client nothing but a request id; the log has the rest.

A route that raises is registered on a fresh production app before its first request, so the real
error handlers, headers and logging answer it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from flask import Flask, request

from authsvc.db import get_engine
from tests.conftest import build_app, make_settings
from tests.helpers import PASSWORD

INNER_DETAIL = "connection to 10.0.0.7 refused; SELECT password_hash FROM user"  # must stay inside


def explode() -> str:
    request.get_json(silent=True)  # the body was read: its password must not come back either
    raise RuntimeError(INNER_DETAIL)


@pytest.fixture
def production_app(tmp_path) -> Iterator[Flask]:
    app = build_app(make_settings(tmp_path, environment="production"))
    app.add_url_rule("/boom", view_func=explode, methods=["GET", "POST"])
    yield app
    get_engine(app).dispose()


@pytest.mark.parametrize(
    ("method", "request_kwargs"),
    [
        pytest.param("get", {}, id="get"),
        pytest.param("post", {"json": {"username": "admin", "password": PASSWORD}}, id="post-with-password"),
    ],
)
def test_unhandled_error_answers_500_with_only_a_request_id(production_app, caplog, method, request_kwargs):
    assert not production_app.debug and not production_app.testing
    with caplog.at_level(logging.ERROR, logger="authsvc"):
        response = getattr(production_app.test_client(), method)("/boom", **request_kwargs)

    assert response.status_code == 500
    body = response.get_json()
    request_id = body["request_id"]
    assert body == {"detail": "Internal server error.", "code": "internal_error", "request_id": request_id}
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.headers["X-Request-ID"] == request_id
    for leak in ("Traceback", "RuntimeError", INNER_DETAIL, "explode", PASSWORD):
        assert leak not in response.get_data(as_text=True)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"

    # the operator can find the failure by the id the client reports, with its traceback
    records = [r for r in caplog.records if r.name == "authsvc" and request_id in r.getMessage()]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None and records[0].exc_info[0] is RuntimeError
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


def test_each_failure_gets_its_own_request_id(production_app, caplog):
    client = production_app.test_client()
    with caplog.at_level(logging.ERROR, logger="authsvc"):
        ids = [client.get("/boom").get_json()["request_id"] for _ in range(3)]
    assert len(set(ids)) == 3
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "authsvc")
    assert all(request_id in logged for request_id in ids)


def test_a_domain_error_missing_from_the_status_map_is_a_logged_500(app, client, monkeypatch, caplog):
    """An AuthError subclass nobody mapped to a status must not crash the error handler itself."""
    from authsvc import exceptions
    from authsvc.services import auth

    class Unmapped(exceptions.AuthError):
        code = "unmapped"

    def fail(**_kwargs):
        raise Unmapped("something nobody mapped")

    monkeypatch.setattr(auth, "verify_access", fail)
    response = client.get("/api/auth/whoami", headers={"Authorization": "Bearer x.y.z"})
    assert response.status_code == 500
    body = response.get_json()
    assert body["code"] == "internal_error" and body["request_id"]
    assert "something nobody mapped" not in response.get_data(as_text=True)
    assert any(body["request_id"] in record.getMessage() for record in caplog.records)
