"""Issue 11, item 2: who may create accounts. ``FLASK_REGISTRATION=closed`` shuts self-service sign-up
(403 ``registration_closed``), and admins create accounts with ``POST /api/users`` whatever it says."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from authsvc.config import ConfigError, Settings
from authsvc.db import get_engine
from authsvc.models import User
from tests.conftest import assert_error, make_settings

CLOSED = {"registration": "closed"}
NEW_PASSWORD = "tangerine-lighthouse-42"


@pytest.fixture
def settings(tmp_path, request):
    """conftest's settings, overridable per test with ``parametrize("settings", [...], indirect=True)``."""
    return make_settings(tmp_path, **getattr(request, "param", {}))


def new_user(name: str = "newbie", **fields: object) -> dict[str, object]:
    return {"username": name, "email": f"{name}@example.com", "password": NEW_PASSWORD, **fields}


def usernames(app) -> list[str]:
    with Session(get_engine(app)) as session:
        return list(session.exec(select(User.username).order_by(User.id)).all())


def register(client, body):
    return client.post("/api/auth/register", json=body)


# --- FLASK_REGISTRATION -----------------------------------------------------------------------------


def test_registration_is_open_by_default(app, client):
    assert register(client, new_user()).status_code == 201
    assert usernames(app) == ["newbie"]


@pytest.mark.parametrize("settings", [CLOSED], indirect=True)
def test_closed_registration_refuses_sign_up_with_403(app, client):
    body = assert_error(register(client, new_user()), 403, "registration_closed")
    assert "closed" in body["detail"].lower()
    assert usernames(app) == []


@pytest.mark.parametrize("settings", [CLOSED], indirect=True)
def test_closed_registration_says_nothing_about_which_names_exist(client, make_user):
    """Refused before the name is looked up: a taken name gets the same 403 as a free one."""
    taken = make_user()
    assert_error(register(client, new_user(taken.username)), 403, "registration_closed")
    assert_error(register(client, new_user("free", email=taken.email)), 403, "registration_closed")


@pytest.mark.parametrize("value", ["", "maybe", "OPEN ", "true"])
def test_a_bad_registration_setting_stops_start_up_naming_it(value):
    with pytest.raises(ConfigError, match="^FLASK_REGISTRATION: "):
        Settings.from_env({"FLASK_REGISTRATION": value})


@pytest.mark.parametrize("value", ["open", "closed"])
def test_registration_setting_values(value):
    assert Settings.from_env({"FLASK_REGISTRATION": value}).registration == value
