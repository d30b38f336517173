"""``GET /metrics`` in one process (API.md section 8): off by default, the token guard, and the
counts a scripted sequence of requests leaves. Metrics are per process and this test process has
served other tests' apps, so counts are compared before and after; the gunicorn test
(tests/system/test_metrics_workers.py) checks exact totals across two workers."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import PASSWORD, Api, bearer

TOKEN = "scrape-me-0123456789"


def samples(client, token: str = TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=bearer(token))
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def delta(before, after, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


@pytest.fixture
def metrics_app(make_app):
    return make_app(
        metrics_enabled=True, metrics_token=TOKEN, ratelimit_enabled=True, ratelimit_login_username="2/minute"
    )


def test_metrics_are_off_by_default(client):
    response = client.get("/metrics")
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"


def test_the_token_guards_the_metrics(metrics_app):
    client = metrics_app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer("wrong")).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/metrics", headers=bearer(TOKEN)).status_code == 200


def test_metrics_are_not_in_the_openapi_document(metrics_app):
    assert "/metrics" not in metrics_app.test_client().get("/openapi.json").get_json()["paths"]


def test_a_scripted_sequence_shows_exactly_its_counts(metrics_app, make_user):
    client = metrics_app.test_client()
    api = Api(client)
    make_user_in(metrics_app, "ada")
    before = samples(client)
    tokens = api.sign_in("ada")
    for _ in range(2):
        client.post("/api/auth/login", json={"username": "ada", "password": "wrong-password"})
    refused = client.post("/api/auth/login", json={"username": "ada", "password": "wrong-password"})
    assert refused.status_code == 429
    rotated = api.refresh(tokens["refresh_token"]).get_json()
    assert api.refresh(tokens["refresh_token"]).status_code == 401  # reuse: the session is revoked
    assert api.whoami(rotated["access_token"]).status_code == 401
    client.get("/api/users/12345", headers=bearer("nonsense"))
    client.get("/no/such/path/for-user-ada@example.com")
    after = samples(client)
    assert delta(before, after, "authsvc_sign_ins_total", outcome="success") == 1
    assert delta(before, after, "authsvc_sign_ins_total", outcome="failure") == 2
    assert delta(before, after, "authsvc_rate_limited_total", limit="password") == 1
    assert delta(before, after, "authsvc_refreshes_total", outcome="success") == 1
    assert delta(before, after, "authsvc_refreshes_total", outcome="reuse") == 1
    assert delta(before, after, "authsvc_sessions_revoked_total", reason="reuse") == 1
    rule = "/api/auth/login"
    assert delta(before, after, "authsvc_http_requests_total", method="POST", route=rule, status="200") == 1
    assert delta(before, after, "authsvc_http_requests_total", method="POST", route=rule, status="401") == 2
    assert delta(before, after, "authsvc_http_requests_total", method="POST", route=rule, status="429") == 1
    users_rule = "/api/users/<int:user_id>"
    assert (
        delta(before, after, "authsvc_http_requests_total", method="GET", route=users_rule, status="401") == 1
    )
    assert (
        delta(before, after, "authsvc_http_requests_total", method="GET", route="unmatched", status="404")
        == 1
    )
    assert delta(before, after, "authsvc_http_request_duration_seconds_count", route=rule) == 4
    assert after[("authsvc_mail_outbox_pending", ())] >= 0


def test_no_label_holds_user_input(metrics_app):
    client = metrics_app.test_client()
    client.get("/api/users/98765")
    client.get("/evil/xssprobe/ada@example.com")
    client.post("/api/auth/login", json={"username": "mallory-was-here", "password": "x" * 9})
    text = client.get("/metrics", headers=bearer(TOKEN)).get_data(as_text=True)
    for leaked in ("98765", "xssprobe", "ada@example.com", "mallory"):
        assert leaked not in text
    routes = set(re.findall(r'route="([^"]*)"', text))
    rules = {rule.rule for rule in metrics_app.url_map.iter_rules()} | {"unmatched"}
    assert routes <= rules


def make_user_in(app, username: str) -> None:
    from authsvc.db import get_engine, session_scope
    from authsvc.security import PasswordHasher
    from authsvc.services import users

    with app.app_context(), session_scope(get_engine(app)) as session:
        users.create_user(
            session=session,
            hasher=PasswordHasher(4),
            username=username,
            password=PASSWORD,
            email=f"{username}@example.com",
        )
