"""Issue 3, ``/api/auth``: session listing and ending, logout scopes, password change, reuse grace."""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt
import pytest

from authsvc.db import get_engine
from authsvc.models import utcnow
from tests.conftest import assert_error, build_app, login, make_settings
from tests.helpers import BAD_REFRESH, BAD_TOKEN, PASSWORD, bearer

SESSION_KEYS = {"id", "created_at", "last_used_at", "user_agent", "ip", "current"}
LOGIN_KEYS = {"access_token", "refresh_token", "token_type", "expires_in"}
NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture
def settings(tmp_path, request):
    """conftest's settings, overridable per test with ``parametrize("settings", [...], indirect=True)``."""
    return make_settings(tmp_path, **getattr(request, "param", {}))


def sid_of(token):
    return jwt.decode(token, options={"verify_signature": False})["sid"]


def whoami(client, access):
    return client.get("/api/auth/whoami", headers=bearer(access))


def refresh(client, token):
    return client.post("/api/auth/refresh", headers=bearer(token))


def list_sessions(client, access):
    response = client.get("/api/auth/sessions", headers=bearer(access))
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert isinstance(body, list)
    return body


def end_session(client, access, session_id):
    return client.delete(f"/api/auth/sessions/{session_id}", headers=bearer(access))


def logout(client, access, scope=None):
    query = "" if scope is None else f"?scope={scope}"
    return client.post(f"/api/auth/logout{query}", headers=bearer(access))


def change_password(client, access, current=PASSWORD, new=NEW_PASSWORD):
    return client.post(
        "/api/auth/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(access),
    )


def assert_alive(client, tokens):
    """Both halves work: the access token is accepted and the refresh token still rotates."""
    assert whoami(client, tokens["access_token"]).status_code == 200
    assert client.get("/list/", headers=bearer(tokens["access_token"])).status_code == 200
    rotated = refresh(client, tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.data
    return rotated.get_json()


def assert_dead(client, tokens):
    """Neither half works, on either API."""
    assert_error(whoami(client, tokens["access_token"]), 401, "invalid_token")
    assert client.get("/list/", headers=bearer(tokens["access_token"])).data == BAD_TOKEN
    assert_error(refresh(client, tokens["refresh_token"]), 401, "invalid_token")
    assert client.post("/token/refresh/", json={"refresh": tokens["refresh_token"]}).data == BAD_REFRESH


def assert_tokens_dead(client, tokens):
    """Like ``assert_dead`` without spending anything: for pairs another check will still use."""
    assert_error(whoami(client, tokens["access_token"]), 401, "invalid_token")
    assert_error(refresh(client, tokens["refresh_token"]), 401, "invalid_token")


def sign_ins(client, username, count):
    return [login(client, username) for _ in range(count)]


def parse_time(value):
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)
    return parsed


# --- GET /api/auth/sessions -------------------------------------------------------------------------


def test_sessions_lists_the_callers_live_sessions(client, make_user):
    user, stranger = make_user(), make_user()
    first, second = sign_ins(client, user.username, 2)
    login(client, stranger.username)
    body = list_sessions(client, first["access_token"])
    assert all(set(item) == SESSION_KEYS for item in body)
    assert {item["id"] for item in body} == {sid_of(first["access_token"]), sid_of(second["access_token"])}
    assert {item["id"]: item["current"] for item in body} == {
        sid_of(first["access_token"]): True,
        sid_of(second["access_token"]): False,
    }
    for item in body:
        assert parse_time(item["last_used_at"]) >= parse_time(item["created_at"])
    # the other session sees the same set, with the flag on itself
    other_view = list_sessions(client, second["access_token"])
    assert {item["id"]: item["current"] for item in other_view} == {
        sid_of(first["access_token"]): False,
        sid_of(second["access_token"]): True,
    }


def test_sessions_record_user_agent_and_ip(client, make_user):
    user = make_user()
    response = client.post(
        "/api/auth/login",
        json={"username": user.username, "password": PASSWORD},
        headers={"User-Agent": "Frobnicator/2.1 (X11)"},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert response.status_code == 200
    tokens = response.get_json()
    [item] = list_sessions(client, tokens["access_token"])
    assert item["user_agent"] == "Frobnicator/2.1 (X11)"
    assert item["ip"] == "203.0.113.7"
    assert item["current"] is True


def test_sessions_made_through_the_compat_endpoint_are_listed(client, make_user):
    user = make_user()
    pair = client.post("/token/", json={"username": user.username, "password": PASSWORD}).get_json()
    [item] = list_sessions(client, pair["access"])
    assert item["id"] == sid_of(pair["access"])
    assert item["current"] is True


def test_sessions_leave_out_ended_ones(client, make_user):
    user = make_user()
    kept, ended = sign_ins(client, user.username, 2)
    assert logout(client, ended["access_token"]).status_code == 200
    assert [item["id"] for item in list_sessions(client, kept["access_token"])] == [
        sid_of(kept["access_token"])
    ]


def test_sessions_leave_out_expired_ones(client, make_user, monkeypatch):
    user = make_user()
    # a sign-in from longer ago than the refresh lifetime (14 days): every token of it has expired
    long_ago = utcnow() - timedelta(days=14, minutes=1)
    monkeypatch.setattr("authsvc.services.sessions.utcnow", lambda: long_ago)
    expired = login(client, user.username)
    monkeypatch.undo()
    current = login(client, user.username)
    assert_error(refresh(client, expired["refresh_token"]), 401, "invalid_token")
    assert [item["id"] for item in list_sessions(client, current["access_token"])] == [
        sid_of(current["access_token"])
    ]
    assert_error(
        end_session(client, current["access_token"], sid_of(expired["access_token"])), 404, "not_found"
    )


def test_sessions_need_an_access_token(client, user_tokens):
    _, tokens = user_tokens
    assert_error(client.get("/api/auth/sessions"), 401, "missing_token")
    assert_error(
        client.get("/api/auth/sessions", headers=bearer(tokens["refresh_token"])), 401, "invalid_token"
    )


# --- last_used_at -----------------------------------------------------------------------------------


def test_last_used_at_moves_on_refresh_and_not_on_other_requests(client, user_tokens, monkeypatch):
    _, tokens = user_tokens
    [before] = list_sessions(client, tokens["access_token"])
    for _ in range(3):
        assert whoami(client, tokens["access_token"]).status_code == 200
        assert client.get("/list/", headers=bearer(tokens["access_token"])).status_code == 200
    [unchanged] = list_sessions(client, tokens["access_token"])
    assert unchanged == before

    later = utcnow() + timedelta(minutes=5)
    monkeypatch.setattr("authsvc.services.auth.utcnow", lambda: later)
    assert refresh(client, tokens["refresh_token"]).status_code == 200
    monkeypatch.undo()
    # the access token issued before the refresh lives on, so it can still look
    [after] = list_sessions(client, tokens["access_token"])
    assert after["id"] == before["id"]
    assert after["created_at"] == before["created_at"]
    assert parse_time(after["last_used_at"]) == later


# --- DELETE /api/auth/sessions/<id> -----------------------------------------------------------------


def test_ending_another_of_my_sessions(client, make_user):
    user = make_user()
    mine, other = sign_ins(client, user.username, 2)
    rotated = refresh(client, other["refresh_token"]).get_json()
    assert whoami(client, other["access_token"]).status_code == 200
    response = end_session(client, mine["access_token"], sid_of(other["access_token"]))
    assert response.status_code == 204
    assert response.data == b""
    # every token of that session dies, those minted before its last rotation too
    assert_dead(client, rotated)
    assert_error(whoami(client, other["access_token"]), 401, "invalid_token")
    assert [item["id"] for item in list_sessions(client, mine["access_token"])] == [
        sid_of(mine["access_token"])
    ]
    assert_alive(client, mine)


def test_ending_my_current_session(client, make_user):
    user = make_user()
    mine, other = sign_ins(client, user.username, 2)
    assert end_session(client, mine["access_token"], sid_of(mine["access_token"])).status_code == 204
    assert_dead(client, mine)
    assert_alive(client, other)


@pytest.mark.parametrize("target", ["someone_elses", "unknown", "already_ended"])
def test_ending_a_session_that_is_not_mine_is_404(client, make_user, target):
    user, stranger = make_user(), make_user()
    mine = login(client, user.username)
    theirs = login(client, stranger.username)
    if target == "someone_elses":
        session_id = sid_of(theirs["access_token"])
    elif target == "unknown":
        session_id = "0" * 32
    else:
        ended = login(client, user.username)
        assert logout(client, ended["access_token"]).status_code == 200
        session_id = sid_of(ended["access_token"])
    assert_error(end_session(client, mine["access_token"], session_id), 404, "not_found")
    assert_alive(client, theirs)
    assert_alive(client, mine)


def test_ending_a_session_needs_a_token(client, user_tokens):
    _, tokens = user_tokens
    assert_error(client.delete(f"/api/auth/sessions/{sid_of(tokens['access_token'])}"), 401, "missing_token")
    assert_alive(client, tokens)


# --- POST /api/auth/logout?scope= -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "revoked", "caller_survives", "others_survive"),
    [
        (None, 1, False, True),
        ("local", 1, False, True),
        ("global", 3, False, False),
        ("others", 2, True, False),
    ],
)
def test_logout_scopes(client, make_user, scope, revoked, caller_survives, others_survive):
    user, bystander = make_user(), make_user()
    caller, *others = sign_ins(client, user.username, 3)
    unrelated = login(client, bystander.username)
    response = logout(client, caller["access_token"], scope)
    assert response.status_code == 200
    assert response.get_json() == {
        "message": "Signed out",
        "scope": scope or "local",
        "revoked_sessions": revoked,
    }
    # check every access token before any refresh token is spent
    for tokens, survives in [(caller, caller_survives)] + [(t, others_survive) for t in others]:
        assert whoami(client, tokens["access_token"]).status_code == (200 if survives else 401)
    for tokens, survives in [(caller, caller_survives)] + [(t, others_survive) for t in others]:
        assert refresh(client, tokens["refresh_token"]).status_code == (200 if survives else 401)
    assert_alive(client, unrelated)


def test_logout_others_keeps_only_the_callers_session_listed(client, make_user):
    user = make_user()
    caller, *others = sign_ins(client, user.username, 3)
    assert logout(client, caller["access_token"], "others").get_json()["revoked_sessions"] == 2
    assert [item["id"] for item in list_sessions(client, caller["access_token"])] == [
        sid_of(caller["access_token"])
    ]
    for tokens in others:
        assert_dead(client, tokens)
    assert_alive(client, caller)


@pytest.mark.parametrize(("scope", "revoked"), [("global", 2), ("others", 1)])
def test_logout_counts_only_sessions_still_live(client, make_user, scope, revoked):
    user = make_user()
    caller, _, ended = sign_ins(client, user.username, 3)
    assert logout(client, ended["access_token"]).status_code == 200
    assert logout(client, caller["access_token"], scope).get_json()["revoked_sessions"] == revoked


def test_logout_others_alone_revokes_nothing(client, user_tokens):
    _, tokens = user_tokens
    response = logout(client, tokens["access_token"], "others")
    assert response.get_json() == {"message": "Signed out", "scope": "others", "revoked_sessions": 0}
    assert_alive(client, tokens)


@pytest.mark.parametrize("scope", ["all", "GLOBAL", "", "local,others"])
def test_logout_with_an_invalid_scope_is_400_and_revokes_nothing(client, user_tokens, scope):
    _, tokens = user_tokens
    assert_error(logout(client, tokens["access_token"], scope), 400, "validation_error")
    assert_alive(client, tokens)


def test_logout_scope_works_with_get_too(client, make_user):
    user = make_user()
    caller, other = sign_ins(client, user.username, 2)
    response = client.get("/api/auth/logout?scope=global", headers=bearer(caller["access_token"]))
    assert response.get_json() == {"message": "Signed out", "scope": "global", "revoked_sessions": 2}
    assert_tokens_dead(client, caller)
    assert_tokens_dead(client, other)


# --- POST /api/auth/password ------------------------------------------------------------------------


def test_password_change_ends_every_earlier_session_and_starts_a_new_one(client, make_user):
    user, bystander = make_user(), make_user()
    caller, *others = sign_ins(client, user.username, 3)
    unrelated = login(client, bystander.username)
    response = change_password(client, caller["access_token"])
    assert response.status_code == 200, response.data
    fresh = response.get_json()
    assert set(fresh) == LOGIN_KEYS
    assert fresh["token_type"] == "Bearer"
    assert fresh["expires_in"] == 900
    assert response.headers["Cache-Control"] == "no-store"
    new_sid = sid_of(fresh["access_token"])
    assert sid_of(fresh["refresh_token"]) == new_sid
    assert new_sid not in {sid_of(t["access_token"]) for t in [caller, *others]}
    # every earlier session, the caller's included, is dead: access and refresh, on both APIs
    for tokens in [caller, *others]:
        assert_dead(client, tokens)
    [item] = list_sessions(client, fresh["access_token"])
    assert item["id"] == new_sid
    assert item["current"] is True
    assert_alive(client, fresh)
    assert_alive(client, unrelated)


def test_password_change_swaps_the_password_for_sign_in(client, user_tokens):
    user, tokens = user_tokens
    assert change_password(client, tokens["access_token"]).status_code == 200
    assert_error(
        client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD}),
        401,
        "invalid_credentials",
    )
    assert client.post("/token/", json={"username": user.username, "password": PASSWORD}).status_code == 401
    login(client, user.username, NEW_PASSWORD)
    assert (
        client.post("/token/", json={"username": user.username, "password": NEW_PASSWORD}).status_code == 200
    )


def test_password_change_with_a_wrong_current_password(client, make_user):
    user = make_user()
    caller, other = sign_ins(client, user.username, 2)
    response = change_password(client, caller["access_token"], current="not-the-password")
    assert_error(response, 401, "invalid_credentials")
    assert_alive(client, caller)
    assert_alive(client, other)
    login(client, user.username)


@pytest.mark.parametrize(
    "new",
    ["short12", "", "password123", "PASSWORD123", "1234567890", "x" * 1025, "nul\0in-the-middle"],
)
def test_password_change_refuses_a_weak_or_malformed_new_password(client, make_user, new):
    user = make_user()
    caller, other = sign_ins(client, user.username, 2)
    body = assert_error(change_password(client, caller["access_token"], new=new), 400, "validation_error")
    assert ["body", "new_password"] in [item["loc"] for item in body["errors"]]
    assert_alive(client, caller)
    assert_alive(client, other)
    login(client, user.username)


def test_password_change_refuses_the_username_as_password(client, make_user):
    user = make_user("samename-user")
    tokens = login(client, user.username)
    assert_error(
        change_password(client, tokens["access_token"], new="SameName-User"), 400, "validation_error"
    )
    assert_alive(client, tokens)


@pytest.mark.parametrize(
    "body",
    [
        {"new_password": NEW_PASSWORD},
        {"current_password": PASSWORD},
        {"current_password": 12345678, "new_password": NEW_PASSWORD},
        {"current_password": PASSWORD, "new_password": ["a-brand-new-passphrase"]},
    ],
)
def test_password_change_body_is_validated(client, user_tokens, body):
    _, tokens = user_tokens
    response = client.post("/api/auth/password", json=body, headers=bearer(tokens["access_token"]))
    assert_error(response, 400, "validation_error")
    assert_alive(client, tokens)


def test_password_change_needs_an_access_token(client, user_tokens):
    _, tokens = user_tokens
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert_error(client.post("/api/auth/password", json=body), 401, "missing_token")
    response = client.post("/api/auth/password", json=body, headers=bearer(tokens["refresh_token"]))
    assert_error(response, 401, "invalid_token")


# --- refresh reuse and FLASK_JWT_REFRESH_REUSE_INTERVAL ---------------------------------------------

GRACE = {"jwt_refresh_reuse_interval": 30}


def shift_clock(monkeypatch, seconds):
    """Make the refresh service see a later time; tokens themselves are still checked on the real clock."""
    monkeypatch.setattr("authsvc.services.auth.utcnow", lambda: utcnow() + timedelta(seconds=seconds))


@pytest.mark.parametrize("settings", [GRACE], indirect=True)
@pytest.mark.parametrize("later", [0, 1, 29])
def test_reuse_within_the_interval_returns_the_same_child_pair(client, user_tokens, monkeypatch, later):
    _, tokens = user_tokens
    child = refresh(client, tokens["refresh_token"]).get_json()
    shift_clock(monkeypatch, later)
    again = refresh(client, tokens["refresh_token"])
    assert again.status_code == 200, again.data
    body = again.get_json()
    assert set(body) == LOGIN_KEYS
    assert body["access_token"] == child["access_token"]
    assert body["refresh_token"] == child["refresh_token"]
    monkeypatch.undo()
    # the session lives on and the child keeps rotating as usual
    assert [item["id"] for item in list_sessions(client, child["access_token"])] == [
        sid_of(tokens["access_token"])
    ]
    assert_alive(client, child)


@pytest.mark.parametrize("settings", [GRACE], indirect=True)
def test_reuse_within_the_interval_works_repeatedly_and_across_both_apis(client, make_user):
    user = make_user()
    pair = client.post("/token/", json={"username": user.username, "password": PASSWORD}).get_json()
    child = client.post("/token/refresh/", json={"refresh": pair["refresh"]}).get_json()
    for _ in range(2):
        assert client.post("/token/refresh/", json={"refresh": pair["refresh"]}).get_json() == child
        body = refresh(client, pair["refresh"]).get_json()
        assert (body["access_token"], body["refresh_token"]) == (child["access"], child["refresh"])
    assert client.get("/list/", headers=bearer(child["access"])).status_code == 200


@pytest.mark.parametrize(
    ("settings", "later"),
    [(GRACE, 31), (GRACE, 3600), ({}, 0), ({"jwt_refresh_reuse_interval": 0}, 0)],
    indirect=["settings"],
)
def test_reuse_after_the_interval_revokes_the_session(client, make_user, monkeypatch, later):
    user = make_user()
    tokens, bystander = sign_ins(client, user.username, 2)
    child = refresh(client, tokens["refresh_token"]).get_json()
    shift_clock(monkeypatch, later)
    assert_error(refresh(client, tokens["refresh_token"]), 401, "invalid_token")
    monkeypatch.undo()
    assert_dead(client, child)
    assert_tokens_dead(client, tokens)
    assert_alive(client, bystander)


@pytest.mark.parametrize("settings", [GRACE], indirect=True)
def test_reuse_after_the_child_was_rotated_revokes_the_session(client, user_tokens):
    _, tokens = user_tokens
    child = refresh(client, tokens["refresh_token"]).get_json()
    grandchild = refresh(client, child["refresh_token"]).get_json()
    assert_error(refresh(client, tokens["refresh_token"]), 401, "invalid_token")
    assert_dead(client, grandchild)
    assert_error(whoami(client, child["access_token"]), 401, "invalid_token")


@pytest.mark.parametrize("settings", [GRACE], indirect=True)
def test_reuse_of_the_rotated_child_itself_gets_the_grandchild(client, user_tokens):
    _, tokens = user_tokens
    child = refresh(client, tokens["refresh_token"]).get_json()
    grandchild = refresh(client, child["refresh_token"]).get_json()
    again = refresh(client, child["refresh_token"]).get_json()
    assert (again["access_token"], again["refresh_token"]) == (
        grandchild["access_token"],
        grandchild["refresh_token"],
    )


@pytest.mark.parametrize("settings", [GRACE], indirect=True)
@pytest.mark.parametrize("ending", ["logout", "password_change"])
def test_reuse_within_the_interval_cannot_revive_an_ended_session(client, user_tokens, ending):
    _, tokens = user_tokens
    child = refresh(client, tokens["refresh_token"]).get_json()
    if ending == "logout":
        assert logout(client, child["access_token"]).status_code == 200
    else:
        assert change_password(client, child["access_token"]).status_code == 200
    assert_error(refresh(client, tokens["refresh_token"]), 401, "invalid_token")
    assert_tokens_dead(client, child)


def test_sessions_beyond_the_cap_end_the_oldest(tmp_path):
    """One account cannot fill the session table: past the cap a sign-in ends the oldest session."""
    app = build_app(make_settings(tmp_path, max_sessions_per_user=3))
    client = app.test_client()
    body = {"username": "many", "email": "many@example.com", "password": PASSWORD}
    assert client.post("/api/auth/register", json=body).status_code == 201
    pairs = [login(client, "many") for _ in range(5)]
    listed = client.get("/api/auth/sessions", headers=bearer(pairs[-1]["access_token"])).get_json()
    assert len(listed) == 3
    refreshed = [
        client.post("/api/auth/refresh", headers=bearer(pair["refresh_token"])).status_code for pair in pairs
    ]
    assert refreshed == [401, 401, 200, 200, 200]
    get_engine(app).dispose()
