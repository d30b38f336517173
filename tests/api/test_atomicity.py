"""A request that fails half-way leaves no partial state behind."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from authsvc.db import get_engine
from authsvc.models import AuthSession, TokenBlocklist, User
from tests.conftest import login
from tests.helpers import PASSWORD, bearer


@pytest.fixture
def failing_commit(monkeypatch):
    """Make the next commit fail as if the database dropped the connection at that moment."""

    def arm():
        def commit(self):
            raise OperationalError("COMMIT", {}, Exception("connection lost"))

        monkeypatch.setattr(Session, "commit", commit)

    return arm


def count(app, model) -> int:
    with Session(get_engine(app)) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_failed_registration_leaves_no_user(app, client, failing_commit, monkeypatch):
    failing_commit()
    response = client.post(
        "/api/auth/register", json={"username": "half", "email": "half@example.com", "password": PASSWORD}
    )
    monkeypatch.undo()
    assert response.status_code == 503
    assert response.get_json()["code"] == "database_unavailable"
    assert count(app, User) == 0


def test_failed_sign_in_mints_no_pair_and_leaves_no_session(
    app, client, make_user, failing_commit, monkeypatch
):
    user = make_user()
    failing_commit()
    response = client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD})
    monkeypatch.undo()
    assert response.status_code == 503
    assert "access_token" not in response.get_json()
    assert count(app, AuthSession) == 0


def test_failed_refresh_spends_nothing(app, client, make_user, failing_commit, monkeypatch):
    user = make_user()
    tokens = login(client, user.username)
    failing_commit()
    response = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    monkeypatch.undo()
    assert response.status_code == 503
    assert count(app, TokenBlocklist) == 0
    # the token was not spent: the client's retry succeeds instead of being treated as theft
    assert client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200


def test_failed_password_change_keeps_the_old_password_and_sessions(
    app, client, make_user, failing_commit, monkeypatch
):
    user = make_user()
    tokens = login(client, user.username)
    failing_commit()
    response = client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "another-long-passphrase"},
        headers=bearer(tokens["access_token"]),
    )
    monkeypatch.undo()
    assert response.status_code == 503
    assert client.get("/api/auth/whoami", headers=bearer(tokens["access_token"])).status_code == 200
    assert (
        client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD}).status_code
        == 200
    )
    assert count(app, TokenBlocklist) == 0


def test_an_exhausted_connection_pool_is_a_503_not_a_500(client, make_user, monkeypatch):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from authsvc.services import auth

    user = make_user()
    tokens = login(client, user.username)

    def busy(**_kwargs):
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    monkeypatch.setattr(auth, "verify_access", busy)
    response = client.get("/api/auth/whoami", headers=bearer(tokens["access_token"]))
    assert response.status_code == 503
    assert response.get_json()["code"] == "database_unavailable"
