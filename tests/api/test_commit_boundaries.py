"""One rule for who commits: each public service function commits once, and writes its audit lines
only after that commit succeeded. So when the commit fails, the request is a 503 and no audit line
claims a change that did not happen, and no audit_event row does either: the row is written in the
change's own transaction (services/__init__.py states the rule)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from authsvc.db import get_engine
from authsvc.models import AuditEvent, Role
from tests.conftest import login
from tests.helpers import PASSWORD, bearer

AUDIT = "authsvc.audit"
# Outcomes that say nothing changed: a failure audit before the commit is the truth.
NOT_A_CHANGE = {"failure", "credentials_changed"}

Action = Callable[[FlaskClient, dict[str, Any]], Any]


def _register(client: FlaskClient, world: dict[str, Any]) -> Any:
    body = {"username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD}
    return client.post("/api/auth/register", json=body)


def _login(client: FlaskClient, world: dict[str, Any]) -> Any:
    return client.post("/api/auth/login", json={"username": world["user"].username, "password": PASSWORD})


def _token(client: FlaskClient, world: dict[str, Any]) -> Any:
    return client.post("/token/", json={"username": world["user"].username, "password": PASSWORD})


def _refresh(client: FlaskClient, world: dict[str, Any]) -> Any:
    return client.post("/api/auth/refresh", headers=bearer(world["tokens"]["refresh_token"]))


def _logout(scope: str) -> Action:
    def run(client: FlaskClient, world: dict[str, Any]) -> Any:
        return client.post(f"/api/auth/logout?scope={scope}", headers=bearer(world["tokens"]["access_token"]))

    return run


def _end_session(client: FlaskClient, world: dict[str, Any]) -> Any:
    headers = bearer(world["tokens"]["access_token"])
    other = next(s for s in client.get("/api/auth/sessions", headers=headers).get_json() if not s["current"])
    return client.delete(f"/api/auth/sessions/{other['id']}", headers=headers)


def _password(client: FlaskClient, world: dict[str, Any]) -> Any:
    return client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "another-long-passphrase-9"},
        headers=bearer(world["tokens"]["access_token"]),
    )


def _patch(body: dict[str, Any]) -> Action:
    def run(client: FlaskClient, world: dict[str, Any]) -> Any:
        headers = bearer(world["admin_tokens"]["access_token"])
        return client.patch(f"/api/users/{world['user'].id}", json=body, headers=headers)

    return run


def _delete(by: str) -> Action:
    def run(client: FlaskClient, world: dict[str, Any]) -> Any:
        tokens = world["admin_tokens"] if by == "admin" else world["tokens"]
        return client.delete(
            f"/api/users/{world['user'].id}",
            headers=bearer(tokens["access_token"]),
            json={"current_password": PASSWORD},
        )

    return run


ACTIONS: dict[str, Action] = {
    "register": _register,
    "sign-in": _login,
    "compat-sign-in": _token,
    "refresh": _refresh,
    "logout-local": _logout("local"),
    "logout-global": _logout("global"),
    "end-one-session": _end_session,
    "password-change": _password,
    "role-change": _patch({"role": "admin"}),
    "deactivation": _patch({"is_active": False}),
    "email-change": _patch({"email": "changed@example.com"}),
    "deletion-by-admin": _delete("admin"),
    "deletion-by-self": _delete("self"),
}


@pytest.fixture
def commit_world(client, make_user) -> dict[str, Any]:
    user = make_user()
    admin = make_user(role=Role.ADMIN)
    tokens = login(client, user.username)
    login(client, user.username)  # a second session, for ending one
    return {"user": user, "tokens": tokens, "admin_tokens": login(client, admin.username)}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_failed_commit_leaves_no_audit_line_claiming_success(
    client, commit_world, caplog, monkeypatch, action
):
    def commit(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("connection lost"))

    caplog.set_level(logging.INFO, logger=AUDIT)
    caplog.clear()
    before = len(stored_events(client))
    monkeypatch.setattr(Session, "commit", commit)
    response = ACTIONS[action](client, commit_world)
    monkeypatch.undo()
    assert response.status_code == 503, response.data
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == AUDIT]
    claims = [line for line in lines if line["outcome"] not in NOT_A_CHANGE]
    assert claims == [], claims
    written = stored_events(client)[before:]
    rows = [(event, outcome) for event, outcome in written if outcome not in NOT_A_CHANGE]
    assert rows == [], rows


def stored_events(client: FlaskClient) -> list[tuple[str, str]]:
    """Every (event, outcome) in the audit_event table, written by anyone."""
    with Session(get_engine(client.application)) as session:
        rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        return [(row.event, row.outcome) for row in rows]


@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_same_actions_audit_once_they_commit(client, commit_world, caplog, action):
    """The control: without the failure each action does write its line, so the test above can fail."""
    caplog.set_level(logging.INFO, logger=AUDIT)
    caplog.clear()
    response = ACTIONS[action](client, commit_world)
    assert response.status_code < 300, response.data
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == AUDIT]
    if action != "email-change":  # an admin's change of address is no security event with an audit line
        assert [line for line in lines if line["outcome"] not in NOT_A_CHANGE], lines
        done = [(line["event"], line["outcome"]) for line in lines if line["outcome"] not in NOT_A_CHANGE]
        assert set(done) <= set(stored_events(client)), "each line's event is a committed row"
