"""Issue 18, the audit trail in the database: ``audit_event`` rows written with the change they
record, and ``GET /api/admin/audit`` (API.md section 8): filters, paging, newest first, admins only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from authsvc.db import get_engine, session_scope
from authsvc.models import AuditEvent, Role, User, utcnow
from tests.conftest import assert_error, login
from tests.helpers import PASSWORD, bearer

ITEM_KEYS = [
    "id",
    "time",
    "event",
    "outcome",
    "user_id",
    "session_id",
    "ip",
    "user_agent",
    "request_id",
    "details",
]
CLIENT_IP = "198.51.100.23"
AGENT = "audit-test/1.0"
NEW_PASSWORD = "another-long-passphrase-9"


def trail(client: FlaskClient, token: str, query: str = "") -> Any:
    return client.get(f"/api/admin/audit{query}", headers=bearer(token))


def as_client(request_id: str, token: str | None = None) -> dict[str, Any]:
    """A request from one address and browser, with its own request id (and a bearer token)."""
    headers = {"X-Request-ID": request_id, "User-Agent": AGENT} | (bearer(token) if token else {})
    return {"headers": headers, "environ_base": {"REMOTE_ADDR": CLIENT_IP}}


def rows(app: Flask) -> list[AuditEvent]:
    with Session(get_engine(app)) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all())


def add_events(app: Flask, *events: dict[str, Any]) -> None:
    """Events written straight into the table, with the times a test needs."""
    with session_scope(get_engine(app)) as session:
        for event in events:
            session.add(AuditEvent(**({"event": "sign_in", "outcome": "success"} | event)))
        session.commit()


@pytest.fixture
def admin(client: FlaskClient, make_user) -> dict[str, Any]:
    user = make_user(role=Role.ADMIN)
    return {"user": user, **login(client, user.username)}


# --- a scripted sequence, every event in the trail ----------------------------------------------------


def test_every_event_of_a_sequence_is_in_the_trail_with_its_outcome_and_request_id(client, app, make_user):
    admin_user, user = make_user(role=Role.ADMIN), make_user()
    name = user.username

    def post(path: str, request_id: str, token: str | None = None, **body: Any) -> Any:
        return client.post(path, json=body or None, **as_client(request_id, token))

    assert (
        post("/api/auth/login", "r-admin", username=admin_user.username, password=PASSWORD).status_code == 200
    )
    admin_token = client.post(
        "/api/auth/login", json={"username": admin_user.username, "password": PASSWORD}
    ).get_json()["access_token"]
    assert post("/api/auth/login", "r-wrong", username=name, password="not-the-password").status_code == 401
    first = post("/api/auth/login", "r-signin", username=name, password=PASSWORD).get_json()
    second = post("/api/auth/refresh", "r-refresh", first["refresh_token"]).get_json()
    assert post("/api/auth/refresh", "r-reuse", first["refresh_token"]).status_code == 401
    third = post("/api/auth/login", "r-signin-2", username=name, password=PASSWORD).get_json()
    assert post("/api/auth/logout", "r-logout", third["access_token"]).status_code == 200
    fourth = post("/api/auth/login", "r-signin-3", username=name, password=PASSWORD).get_json()
    wrong = {"current_password": "nope-nope-nope", "new_password": NEW_PASSWORD}
    assert post("/api/auth/password", "r-pw-wrong", fourth["access_token"], **wrong).status_code == 401
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert post("/api/auth/password", "r-pw", fourth["access_token"], **right).status_code == 200
    deactivate = client.patch(
        f"/api/users/{user.id}", json={"is_active": False}, **as_client("r-deactivate", admin_token)
    )
    assert deactivate.status_code == 200
    assert second["access_token"]

    response = trail(client, admin_token, "?per_page=100")
    assert response.status_code == 200
    body = response.get_json()
    seen = [
        (item["event"], item["outcome"], item["user_id"], item["request_id"])
        for item in body["items"]
        if item["request_id"] and item["request_id"].startswith("r-")
    ]
    assert seen == [  # newest first
        ("deactivation", "success", user.id, "r-deactivate"),
        ("password_change", "success", user.id, "r-pw"),
        ("password_change", "failure", user.id, "r-pw-wrong"),
        ("sign_in", "success", user.id, "r-signin-3"),
        ("logout", "success", user.id, "r-logout"),
        ("sign_in", "success", user.id, "r-signin-2"),
        ("refresh_reuse", "session_revoked", user.id, "r-reuse"),
        ("refresh", "success", user.id, "r-refresh"),
        ("sign_in", "success", user.id, "r-signin"),
        ("sign_in", "failure", user.id, "r-wrong"),
        ("sign_in", "success", admin_user.id, "r-admin"),
    ]
    assert body["total"] == len(body["items"]) == int(response.headers["X-Total-Count"])
    by_request = {item["request_id"]: item for item in body["items"]}
    signed_in = by_request["r-signin"]
    assert list(signed_in) == ITEM_KEYS
    assert signed_in["ip"] == CLIENT_IP and signed_in["user_agent"] == AGENT
    assert signed_in["session_id"] and by_request["r-refresh"]["session_id"] == signed_in["session_id"]
    assert by_request["r-logout"]["details"] == {"scope": "local"}
    assert by_request["r-deactivate"]["details"] == {"actor_id": admin_user.id}
    assert by_request["r-wrong"]["session_id"] is None
    assert signed_in["time"].endswith("Z")
    assert abs(utcnow() - datetime.fromisoformat(signed_in["time"])) < timedelta(minutes=1)


def test_the_trail_holds_no_password_token_or_hash(client, app, make_user, admin):
    user = make_user()
    tokens = login(client, user.username)
    client.post("/api/auth/login", json={"username": user.username, "password": "a-wrong-secret-guess"})
    client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    client.post("/api/auth/password", json=body, headers=bearer(login(client, user.username)["access_token"]))
    with Session(get_engine(app)) as session:
        password_hash = session.get(User, user.id).password_hash  # type: ignore[union-attr]
    stored = json.dumps([row.model_dump(mode="json") for row in rows(app)])
    listed = trail(client, admin["access_token"], "?per_page=100").get_data(as_text=True)
    for secret in (PASSWORD, NEW_PASSWORD, "a-wrong-secret-guess", password_hash, *tokens.values()):
        if isinstance(secret, str) and len(secret) > 8:
            assert secret not in stored and secret not in listed


def test_a_long_user_agent_is_cut_to_the_column(client, app, make_user):
    user = make_user()
    headers = {"User-Agent": "x" * 5000}
    client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD}, headers=headers)
    [row] = rows(app)
    assert row.user_agent == "x" * 512


def test_a_refused_sign_in_is_committed_on_its_own(client, app, make_user):
    """Unknown and wrong-password sign-ins both leave one failure row (and nothing else)."""
    user = make_user()
    client.post("/api/auth/login", json={"username": user.username, "password": "not-the-password"})
    client.post("/api/auth/login", json={"username": "nobody-at-all", "password": "not-the-password"})
    assert [(r.event, r.outcome, r.user_id) for r in rows(app)] == [
        ("sign_in", "failure", user.id),
        ("sign_in", "failure", None),
    ]


# --- filters and paging -------------------------------------------------------------------------------


T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def seven(app: Flask) -> None:
    """Seven events an hour apart, T0 to T0+6h, users 1 and 2 alternating, two kinds."""
    add_events(
        app,
        *(
            {
                "time": T0 + timedelta(hours=i),
                "user_id": 100 + i % 2,
                "event": "refresh" if i % 3 else "sign_in",
                "outcome": "failure" if i == 4 else "success",
            }
            for i in range(7)
        ),
    )


def listed(client: FlaskClient, admin: dict[str, Any], query: str) -> list[tuple[int | None, str]]:
    response = trail(client, admin["access_token"], query)
    assert response.status_code == 200, response.data
    return [(item["user_id"], item["time"]) for item in response.get_json()["items"]]


def hour(i: int) -> str:
    return (T0 + timedelta(hours=i)).isoformat().replace("+00:00", "Z")


@pytest.mark.usefixtures("seven")
@pytest.mark.parametrize(
    ("query", "hours", "admins"),  # admins: whether the admin's own sign-in (today) matches too
    [
        ("?user_id=100", [6, 4, 2, 0], False),
        ("?user_id=101", [5, 3, 1], False),
        ("?user_id=999", [], False),
        ("?event=sign_in", [6, 3, 0], True),
        ("?event=refresh&outcome=failure", [4], False),
        ("?outcome=failure", [4], False),
        ("?event=password_change", [], False),
        ("?since=2026-11-01T14:00:00", [6, 5, 4, 3, 2], True),  # since is included
        ("?until=2026-11-01T14:00:00", [1, 0], False),  # until is excluded
        ("?since=2026-11-01T13:00:00&until=2026-11-01T15:00:00", [2, 1], False),
        ("?since=2026-11-01T14:00:00Z", [6, 5, 4, 3, 2], True),  # a zone is read, too
        ("?since=2026-11-01T15:00:00%2B01:00", [6, 5, 4, 3, 2], True),  # 15:00+01:00 is 14:00 UTC
        ("?since=2026-11-01T16:00:00&until=2026-11-01T13:00:00", [], False),
        ("?user_id=100&since=2026-11-01T13:00:00&event=sign_in", [6], False),
    ],
)
def test_filters(client, admin, query, hours, admins):
    got = listed(client, admin, query + "&per_page=100")
    expected = [(100 + i % 2, hour(i)) for i in hours]
    if admins:  # the newest of all
        assert got[0][0] == admin["user"].id
        got = got[1:]
    assert got == expected


@pytest.mark.usefixtures("seven")
def test_paging_newest_first_with_the_total(client, app, admin):
    query = f"?until={T0.replace(tzinfo=None) + timedelta(days=1):%Y-%m-%dT%H:%M:%S}&per_page=3"
    pages = [trail(client, admin["access_token"], f"{query}&page={n}") for n in (1, 2, 3, 4)]
    bodies = [page.get_json() for page in pages]
    assert [page.headers["X-Total-Count"] for page in pages] == ["7"] * 4
    assert [(b["page"], b["per_page"], b["total"], b["pages"]) for b in bodies] == [
        (n, 3, 7, 3) for n in (1, 2, 3, 4)
    ]
    times = [item["time"] for body in bodies for item in body["items"]]
    assert times == [hour(i) for i in range(6, -1, -1)]
    assert bodies[3]["items"] == []


def test_events_of_one_instant_keep_a_stable_order(client, app, admin):
    add_events(app, *({"time": T0, "user_id": 200, "outcome": f"o{i}"} for i in range(5)))
    pages = [trail(client, admin["access_token"], f"?user_id=200&per_page=2&page={n}") for n in (1, 2, 3)]
    outcomes = [item["outcome"] for page in pages for item in page.get_json()["items"]]
    assert outcomes == ["o4", "o3", "o2", "o1", "o0"]


def test_the_default_page(client, admin):
    body = trail(client, admin["access_token"]).get_json()
    assert (body["page"], body["per_page"]) == (1, 20)
    assert [item["event"] for item in body["items"]] == ["sign_in"]  # the admin's own sign-in


# --- who may read it, and hostile queries --------------------------------------------------------------


def test_a_non_admin_gets_403(client, user_tokens):
    _, tokens = user_tokens
    assert_error(trail(client, tokens["access_token"]), 403, "forbidden")


def test_no_token_gets_401(client):
    response = client.get("/api/admin/audit")
    assert response.status_code == 401 and response.get_json()["code"] == "missing_token"


def test_a_refresh_token_is_not_an_admin_token(client, admin):
    assert trail(client, admin["refresh_token"]).status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1000001",
        "per_page=0",
        "per_page=101",
        "per_page=1e2",
        "user_id=0",
        "user_id=abc",
        "user_id=99999999999999999999",
        "user_id=2147483648",
        "event=SIGN_IN",
        "event=sign%00in",
        "event=" + "a" * 33,
        "event=sign in",
        "event=",
        "outcome=%27%20OR%201=1--",
        "outcome=%F0%9F%92%A5",
        "since=yesterday",
        "since=2026-13-01T00:00:00",
        "until=2026-11-01T25:00:00",
        "since=%00",
        "since=0001-01-01T00:00:09%2B05:01",  # before year 1 in UTC (found by schemathesis: a 500)
        "until=9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "until=" + "9" * 200,
    ],
)
def test_hostile_queries_get_a_validation_error(client, admin, query):
    body = assert_error(trail(client, admin["access_token"], f"?{query}"), 400, "validation_error")
    assert body["errors"]


def test_unknown_query_parameters_are_ignored(client, admin):
    assert trail(client, admin["access_token"], "?sort=evil&limit=1000000").status_code == 200


def test_a_registration_is_in_the_trail_and_a_refused_one_is_not(client, app):
    body = {"username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD}
    created = client.post("/api/auth/register", json=body, **as_client("r-register"))
    assert created.status_code == 201
    assert client.post("/api/auth/register", json=body, **as_client("r-taken")).status_code == 409
    assert [(r.event, r.outcome, r.user_id, r.request_id, r.ip) for r in rows(app)] == [
        ("registration", "success", created.get_json()["id"], "r-register", CLIENT_IP)
    ]
