"""No user input reaches a log line unescaped: a newline in a username cannot forge a log entry.

Flask-Limiter's "ratelimit ... exceeded" warning used to carry the raw username of a throttled
sign-in, newlines included. Now budgets are keyed by a hash of the account, addresses are parsed,
and the audit lines are JSON.
"""

from __future__ import annotations

import logging

import pytest

from tests.conftest import login
from tests.helpers import PASSWORD, bearer

HOSTILE = "evil\nINJECTED 2026-12-01 authsvc.audit sign_in success\r"


@pytest.fixture
def throttled_client(make_app):
    app = make_app(ratelimit_enabled=True, ratelimit_register="2/hour", ratelimit_refresh="1/minute")
    return app.test_client()


def test_throttled_requests_with_newlines_in_their_input_log_nothing_raw(throttled_client, caplog):
    client = throttled_client
    caplog.set_level(logging.DEBUG)
    for path in ("/api/auth/login", "/token/"):
        for _ in range(7):  # past the per-account budget: the refusal is logged by whoever throttles
            client.post(path, json={"username": HOSTILE, "password": "wrong-password"})
    for index in range(3):
        client.post(
            "/api/auth/register",
            json={"username": f"reg{index}", "email": f"reg{index}@example.com", "password": PASSWORD},
        )
    token = login(client, "reg0")["refresh_token"]
    for _ in range(2):
        client.post("/api/auth/refresh", headers=bearer(token))
    assert any(record.levelno >= logging.INFO for record in caplog.records), "nothing was logged at all"
    for record in caplog.records:
        message = record.getMessage()
        assert "INJECTED" not in message, message
        assert "\n" not in message and "\r" not in message, message
