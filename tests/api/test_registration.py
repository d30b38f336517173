"""Issue 11, item 2: who may create accounts. ``FLASK_REGISTRATION=closed`` shuts self-service sign-up
(403 ``registration_closed``), and admins create accounts with ``POST /api/users`` whatever it says."""

from __future__ import annotations

import json
import logging

import pytest
from sqlmodel import Session, select

from authsvc.config import ConfigError, Settings
from authsvc.db import get_engine
from authsvc.models import Role, User
from tests.conftest import assert_error, login, make_settings
from tests.helpers import RECORD_KEYS, bearer

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


# --- POST /api/users: an admin creates an account ---------------------------------------------------

AUDIT = "authsvc.audit"


def create(client, token, body, **kwargs):
    return client.post("/api/users", json=body, headers=bearer(token), **kwargs)


@pytest.mark.parametrize("settings", [{}, CLOSED], indirect=True, ids=["open", "closed"])
def test_an_admin_creates_an_account_whatever_registration_says(app, client, admin_tokens):
    _, tokens = admin_tokens
    response = create(client, tokens["access_token"], new_user("Newbie", email="NewBie@Example.com"))
    assert response.status_code == 201, response.data
    record = json.loads(response.data)
    assert list(record) == RECORD_KEYS
    assert (record["username"], record["email"], record["role"], record["is_active"]) == (
        "Newbie",
        "newbie@example.com",
        "user",
        True,
    )
    assert (
        record == client.get(f"/api/users/{record['id']}", headers=bearer(tokens["access_token"])).get_json()
    )
    login(client, "newbie", NEW_PASSWORD)  # the account works, found regardless of case


@pytest.mark.parametrize("role", ["user", "admin"])
def test_an_admin_chooses_the_new_accounts_role(client, admin_tokens, role):
    _, tokens = admin_tokens
    response = create(client, tokens["access_token"], new_user(role=role))
    assert response.status_code == 201, response.data
    assert response.get_json()["role"] == role
    new = login(client, "newbie", NEW_PASSWORD)
    listing = client.get("/api/users/all", headers=bearer(new["access_token"]))
    assert listing.status_code == (200 if role == "admin" else 403)


def test_fields_only_the_service_sets_are_ignored(client, admin_tokens):
    _, tokens = admin_tokens
    body = new_user(id=999, is_active=False, created_at="2000-01-01T00:00:00Z", password_hash="x")
    record = create(client, tokens["access_token"], body).get_json()
    assert record["id"] != 999
    assert record["is_active"] is True
    assert record["created_at"] != "2000-01-01T00:00:00Z"
    login(client, "newbie", NEW_PASSWORD)


def test_creating_an_account_writes_user_created_with_the_admin_as_actor(app, client, admin_tokens, caplog):
    admin, tokens = admin_tokens
    caplog.set_level(logging.INFO, logger=AUDIT)
    caplog.clear()
    record = create(client, tokens["access_token"], new_user(role="admin")).get_json()
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == AUDIT]
    assert [(line["event"], line["outcome"]) for line in lines] == [("user_created", "success")]
    assert lines[0]["user_id"] == record["id"]
    assert lines[0]["actor_id"] == admin.id
    assert lines[0]["role"] == "admin"
    assert NEW_PASSWORD not in caplog.text

    caplog.clear()
    assert create(client, tokens["access_token"], new_user()).status_code == 409
    assert [r for r in caplog.records if r.name == AUDIT and "user_created" in r.getMessage()] == []


def test_creating_accounts_is_for_admins_only(app, client, user_tokens):
    _, tokens = user_tokens
    assert_error(create(client, tokens["access_token"], new_user()), 403, "forbidden")
    assert_error(client.post("/api/users", json=new_user()), 401, "missing_token")
    assert_error(create(client, "not-a-jwt", new_user()), 401, "invalid_token")
    assert_error(create(client, tokens["refresh_token"], new_user()), 401, "invalid_token")
    assert "newbie" not in usernames(app)


def test_a_deactivated_admins_token_cannot_create_accounts(app, client, make_user, admin_tokens):
    admin, tokens = admin_tokens
    make_user(role=Role.ADMIN)  # so the first one may be deactivated
    with Session(get_engine(app)) as session:
        row = session.get(User, admin.id)
        row.is_active = False
        session.add(row)
        session.commit()
    assert_error(create(client, tokens["access_token"], new_user()), 401, "invalid_token")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (new_user("Alice"), "username_taken"),
        (new_user("ALICE", email="other@example.com"), "username_taken"),
        (new_user("bob", email="ALICE@example.com"), "email_taken"),
    ],
    ids=["same-name", "name-in-other-case", "same-email"],
)
def test_a_taken_name_or_email_is_409(app, client, make_user, admin_tokens, body, code):
    make_user("alice", email="alice@example.com")
    _, tokens = admin_tokens
    assert_error(create(client, tokens["access_token"], body), 409, code)
    assert "bob" not in usernames(app)


@pytest.mark.parametrize("password", ["password1", "aaaaaaaa", "newbie2024"])
def test_the_registration_password_policy_applies(app, client, admin_tokens, password):
    _, tokens = admin_tokens
    body = assert_error(
        create(client, tokens["access_token"], new_user(password=password)), 400, "validation_error"
    )
    assert [item["loc"] for item in body["errors"]] == [["body", "password"]]
    assert "newbie" not in usernames(app)


@pytest.mark.parametrize(
    ("settings", "status"),
    [({"password_min_score": 0}, 201), ({"password_min_score": 4}, 400)],
    indirect=["settings"],
    ids=["score-0", "score-4"],
)
def test_the_minimum_score_setting_reaches_admin_creation(client, admin_tokens, status):
    _, tokens = admin_tokens
    assert create(client, tokens["access_token"], new_user(password="Tr0ub4dour&3")).status_code == status


SECRET = "Zq9-never-echo-this"
BAD_BODIES = {
    "empty": {},
    "no-username": {"email": "n@example.com", "password": SECRET},
    "no-email": {"username": "newbie", "password": SECRET},
    "no-password": {"username": "newbie", "email": "n@example.com"},
    "username-null": new_user(username=None, password=SECRET),
    "username-number": new_user(username=42, password=SECRET),
    "username-list": new_user(username=["newbie"], password=SECRET),
    "username-space": new_user(username="new bie", password=SECRET),
    "username-nul": new_user(username="new\x00bie", password=SECRET),
    "username-151": new_user(username="x" * 151, password=SECRET),
    "username-empty": new_user(username="", password=SECRET),
    "username-rtl-override": new_user(username="new\u202ebie", password=SECRET),
    "username-sqli": new_user(username="x'); DROP TABLE user;--", password=SECRET),
    "email-invalid": new_user(email="not-an-email", password=SECRET),
    "email-nul": new_user(email="a\x00b@example.com", password=SECRET),
    "email-number": new_user(email=7, password=SECRET),
    "email-null": new_user(email=None, password=SECRET),
    "email-huge": new_user(email="a" * 5000 + "@example.com", password=SECRET),
    "password-short": new_user(password="1234567"),
    "password-1025": new_user(password="x" * 1025),
    "password-nul": new_user(password=SECRET + "\x00"),
    "password-number": new_user(password=12345678),
    "password-null": new_user(password=None),
    "role-unknown": new_user(role="superuser", password=SECRET),
    "role-upper-case": new_user(role="ADMIN", password=SECRET),
    "role-null": new_user(role=None, password=SECRET),
    "role-number": new_user(role=1, password=SECRET),
    "role-list": new_user(role=["admin"], password=SECRET),
}
JSON, FORM = "application/json", "application/x-www-form-urlencoded"
RAW_BODIES = {  # (data, content type, status, code)
    "array": (f'["{SECRET}"]', JSON, 400, "validation_error"),
    "string": (f'"{SECRET}"', JSON, 400, "validation_error"),
    "null": ("null", JSON, 400, "validation_error"),
    "broken-json": ('{"username": "newbie", "password": "' + SECRET, JSON, 400, "invalid_json"),
    "deeply-nested": ("[" * 100_000 + "]" * 100_000, JSON, 400, ("invalid_json", "validation_error")),
    "form": (f"username=newbie&password={SECRET}", FORM, 415, "unsupported_media_type"),
    "no-content-type": (json.dumps(new_user(password=SECRET)), None, 415, "unsupported_media_type"),
    "too-large": (
        json.dumps(new_user(password=SECRET, padding="x" * 2 * 1024 * 1024)),
        JSON,
        413,
        "payload_too_large",
    ),
}


def assert_4xx_json_without_the_secret(response, status, code):
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] in (code if isinstance(code, tuple) else (code,))
    assert SECRET.encode() not in response.data


@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_bad_bodies_are_400_never_500(app, client, admin_tokens, body):
    _, tokens = admin_tokens
    response = create(client, tokens["access_token"], body)
    assert_4xx_json_without_the_secret(response, 400, "validation_error")
    assert set(response.get_json()) == {"detail", "code", "errors"}
    assert len(usernames(app)) == 1  # the admin only


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"), list(RAW_BODIES.values()), ids=list(RAW_BODIES)
)
def test_bodies_that_are_not_a_json_object_are_4xx_never_500(
    app, client, admin_tokens, data, content_type, status, code
):
    _, tokens = admin_tokens
    headers = bearer(tokens["access_token"])
    response = client.post("/api/users", data=data, content_type=content_type, headers=headers)
    assert_4xx_json_without_the_secret(response, status, code)
    assert len(usernames(app)) == 1
