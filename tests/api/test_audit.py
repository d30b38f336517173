"""Issue 3, the audit trail: one JSON line per security event on ``authsvc.audit``; no secret in any log."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import jwt
import pytest
from sqlmodel import Session

from authsvc.db import get_engine
from authsvc.models import Role, User, utcnow
from tests.conftest import login
from tests.helpers import PASSWORD, bearer

AUDIT = "authsvc.audit"
KEYS = {"event", "user_id", "session_id", "ip", "outcome", "time"}
CLIENT_IP = "198.51.100.23"
AT = {"environ_base": {"REMOTE_ADDR": CLIENT_IP}}
ANY = object()  # a value the spec leaves to the service


@pytest.fixture
def audit_log(caplog):
    """Collect the audit lines written since the last call (each call starts a fresh capture)."""
    caplog.set_level(logging.INFO, logger=AUDIT)

    def lines():
        records = [record for record in caplog.records if record.name == AUDIT]
        caplog.clear()
        parsed = []
        for record in records:
            message = record.getMessage()
            assert "\n" not in message
            parsed.append(json.loads(message))
        return parsed

    return lines


def one_line(lines, event, *, user_id, session_id=None, ip=CLIENT_IP, outcome=None):
    """The request wrote exactly one audit line: this event, with the six keys and these values."""
    assert [line["event"] for line in lines] == [event], lines
    [line] = lines
    assert KEYS <= set(line)
    for key, expected in (("user_id", user_id), ("session_id", session_id)):
        if expected is not ANY:
            assert line[key] == expected, (key, line)
    assert line["ip"] == ip
    assert isinstance(line["outcome"], str) and line["outcome"]
    if outcome is not None:
        assert line["outcome"] == outcome
    when = datetime.fromisoformat(line["time"])
    assert when.utcoffset() == timedelta(0)
    assert abs(utcnow() - when) < timedelta(minutes=1)
    return line


def sid_of(token):
    return jwt.decode(token, options={"verify_signature": False})["sid"]


def sign_in(client, username, password=PASSWORD, path="/api/auth/login"):
    return client.post(path, json={"username": username, "password": password}, **AT)


# --- one line per event -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "access_key"), [("/api/auth/login", "access_token"), ("/token/", "access")])
def test_sign_in_success(client, make_user, audit_log, path, access_key):
    user = make_user()
    audit_log()
    response = sign_in(client, user.username, path=path)
    assert response.status_code == 200
    sid = sid_of(response.get_json()[access_key])
    one_line(audit_log(), "sign_in", user_id=user.id, session_id=sid, outcome="success")


@pytest.mark.parametrize("case", ["wrong_password", "unknown_user", "deactivated"])
@pytest.mark.parametrize("path", ["/api/auth/login", "/token/"])
def test_sign_in_failure(client, make_user, audit_log, case, path):
    user = make_user(is_active=case != "deactivated")
    username = "nobody-here" if case == "unknown_user" else user.username
    password = "wrong-password-1" if case == "wrong_password" else PASSWORD
    audit_log()
    assert sign_in(client, username, password, path=path).status_code == 401
    line = one_line(audit_log(), "sign_in", user_id=ANY, session_id=None, outcome="failure")
    # whether a failure names the account it was aimed at is the service's choice; never another one
    assert line["user_id"] in ({None} if case == "unknown_user" else {None, user.id})


def test_refresh(client, user_tokens, audit_log):
    user, tokens = user_tokens
    audit_log()
    assert client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]), **AT).status_code == 200
    one_line(audit_log(), "refresh", user_id=user.id, session_id=sid_of(tokens["access_token"]))


@pytest.mark.parametrize("path", ["/api/auth/refresh", "/token/refresh/"])
def test_refresh_reuse_detection(client, user_tokens, audit_log, path):
    user, tokens = user_tokens
    assert client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200
    audit_log()
    if path == "/token/refresh/":
        response = client.post(path, json={"refresh": tokens["refresh_token"]}, **AT)
    else:
        response = client.post(path, headers=bearer(tokens["refresh_token"]), **AT)
    assert response.status_code == 401
    one_line(audit_log(), "refresh_reuse", user_id=user.id, session_id=sid_of(tokens["access_token"]))


@pytest.mark.parametrize("scope", ["local", "global", "others"])
def test_logout(client, make_user, audit_log, scope):
    user = make_user()
    tokens, _ = login(client, user.username), login(client, user.username)
    audit_log()
    response = client.post(f"/api/auth/logout?scope={scope}", headers=bearer(tokens["access_token"]), **AT)
    assert response.status_code == 200
    one_line(audit_log(), "logout", user_id=user.id, session_id=sid_of(tokens["access_token"]))


def test_ending_one_session_is_a_logout(client, make_user, audit_log):
    user = make_user()
    tokens, other = login(client, user.username), login(client, user.username)
    audit_log()
    sid = sid_of(other["access_token"])
    response = client.delete(f"/api/auth/sessions/{sid}", headers=bearer(tokens["access_token"]), **AT)
    assert response.status_code == 204
    assert one_line(audit_log(), "logout", user_id=user.id, session_id=sid)


def test_password_change(client, user_tokens, audit_log):
    user, tokens = user_tokens
    audit_log()
    body = {"current_password": PASSWORD, "new_password": "a-brand-new-passphrase"}
    response = client.post("/api/auth/password", json=body, headers=bearer(tokens["access_token"]), **AT)
    assert response.status_code == 200
    new_sid = sid_of(response.get_json()["access_token"])
    line = one_line(audit_log(), "password_change", user_id=user.id, session_id=ANY, outcome="success")
    # the session it was made from, or the one it started
    assert line["session_id"] in {new_sid, sid_of(tokens["access_token"])}


def test_password_change_with_a_wrong_current_password(client, user_tokens, audit_log):
    user, tokens = user_tokens
    audit_log()
    body = {"current_password": "not-the-password", "new_password": "a-brand-new-passphrase"}
    response = client.post("/api/auth/password", json=body, headers=bearer(tokens["access_token"]), **AT)
    assert response.status_code == 401
    line = one_line(audit_log(), "password_change", user_id=user.id, session_id=ANY)
    assert line["outcome"] != "success"


@pytest.mark.parametrize(
    ("body", "event"),
    [({"role": "admin"}, "role_change"), ({"is_active": False}, "deactivation")],
)
def test_admin_changes(client, make_user, admin_tokens, audit_log, body, event):
    _, admin = admin_tokens
    user = make_user()
    login(client, user.username)
    audit_log()
    response = client.patch(f"/api/users/{user.id}", json=body, headers=bearer(admin["access_token"]), **AT)
    assert response.status_code == 200
    # user_id is the account changed; which session (if any) to name is the service's choice
    one_line(audit_log(), event, user_id=user.id, session_id=ANY)


def test_one_patch_with_two_changes_writes_one_line_each(client, make_user, admin_tokens, audit_log):
    _, admin = admin_tokens
    other_admin = make_user(role=Role.ADMIN)
    audit_log()
    body = {"role": "user", "is_active": False}
    response = client.patch(
        f"/api/users/{other_admin.id}", json=body, headers=bearer(admin["access_token"]), **AT
    )
    assert response.status_code == 200
    lines = audit_log()
    assert sorted(line["event"] for line in lines) == ["deactivation", "role_change"]
    for line in lines:
        one_line([line], line["event"], user_id=other_admin.id, session_id=ANY)


def test_a_refused_last_admin_change_is_not_logged_as_done(client, admin_tokens, audit_log):
    admin_user, admin = admin_tokens
    audit_log()
    body = {"role": "user"}
    response = client.patch(f"/api/users/{admin_user.id}", json=body, headers=bearer(admin["access_token"]))
    assert response.status_code == 409
    # a refusal may be recorded, but not as a change that happened
    changes = [line for line in audit_log() if line["event"] == "role_change"]
    assert all(line["outcome"] not in {"success", "user"} for line in changes), changes


@pytest.mark.parametrize("by", ["admin", "self"])
def test_deletion(client, make_user, admin_tokens, audit_log, by):
    _, admin = admin_tokens
    user = make_user()
    tokens = login(client, user.username)
    audit_log()
    actor = admin["access_token"] if by == "admin" else tokens["access_token"]
    body = {"current_password": PASSWORD}
    assert client.delete(f"/api/users/{user.id}", headers=bearer(actor), json=body, **AT).status_code == 204
    one_line(audit_log(), "deletion", user_id=user.id, session_id=ANY)


@pytest.mark.parametrize(
    ("args", "event"),
    [(["set-role", "{name}", "admin"], "role_change"), (["deactivate", "{name}"], "deactivation")],
)
def test_cli_changes_are_audited(app, runner, make_user, audit_log, args, event):
    user = make_user()
    audit_log()
    with app.app_context():  # as `flask` itself does; app.cli alone pushes no app context
        result = runner.invoke(args=[arg.format(name=user.username) for arg in args])
    assert result.exit_code == 0, result.output
    one_line(audit_log(), event, user_id=user.id, ip=None)


# --- nothing secret reaches any log -----------------------------------------------------------------


def password_hash(app, user_id):
    with Session(get_engine(app)) as session:
        return session.get(User, user_id).password_hash


def test_a_whole_session_logs_no_secret(app, client, make_user, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: every record from every library
    first, second, wrong = "Zebra-Crossing-Password-1", "Quiet-Lantern-Password-2", "Wrong-Guess-Password-3"
    admin = make_user(role=Role.ADMIN)
    tokens: list[str] = []

    def keep(response):
        body = response.get_json()
        tokens.extend(value for key, value in body.items() if key in {"access_token", "refresh_token"})
        tokens.extend(value for key, value in body.items() if key in {"access", "refresh"})
        return body

    register = {"username": "secretive", "email": "secretive@example.com", "password": first}
    response = client.post("/api/auth/register", json=register)
    assert response.status_code == 201
    user_id = response.get_json()["id"]
    hashes = [password_hash(app, user_id)]

    assert sign_in(client, "secretive", wrong).status_code == 401
    assert sign_in(client, "secretive", wrong, path="/token/").status_code == 401
    pair = keep(sign_in(client, "secretive", first))
    assert client.get("/api/auth/whoami", headers=bearer(pair["access_token"])).status_code == 200
    assert client.get("/list/", headers=bearer(pair["access_token"])).status_code == 200
    child = keep(client.post("/api/auth/refresh", headers=bearer(pair["refresh_token"])))
    assert client.post("/api/auth/refresh", headers=bearer(pair["refresh_token"])).status_code == 401  # reuse
    assert client.get("/api/auth/whoami", headers=bearer(child["access_token"])).status_code == 401

    compat = keep(client.post("/token/", json={"username": "secretive", "password": first}))
    keep(client.post("/token/refresh/", json={"refresh": compat["refresh"]}))
    assert client.post("/token/refresh/", json={"refresh": compat["refresh"]}).status_code == 401  # reuse

    fresh = keep(sign_in(client, "secretive", first))
    body = {"current_password": wrong, "new_password": second}
    response = client.post("/api/auth/password", json=body, headers=bearer(fresh["access_token"]))
    assert response.status_code == 401
    body = {"current_password": first, "new_password": second}
    changed = keep(client.post("/api/auth/password", json=body, headers=bearer(fresh["access_token"])))
    hashes.append(password_hash(app, user_id))
    assert client.get("/api/auth/whoami", headers=bearer(changed["access_token"])).status_code == 200
    assert client.get("/api/auth/sessions", headers=bearer(changed["access_token"])).status_code == 200
    response = client.post("/api/auth/logout", headers=bearer(changed["access_token"]))
    assert response.status_code == 200
    # the admin side too: a bad patch echoes no input, a deactivation and a deletion
    admin_access = keep(sign_in(client, admin.username))["access_token"]
    response = client.patch(f"/api/users/{user_id}", json={"email": first}, headers=bearer(admin_access))
    assert response.status_code == 400
    response = client.patch(f"/api/users/{user_id}", json={"is_active": False}, headers=bearer(admin_access))
    assert response.status_code == 200
    assert client.delete(f"/api/users/{user_id}", headers=bearer(admin_access)).status_code == 204

    # a credential that is not a token is a secret too
    bogus = "Bearer not-a-token-but-someones-credential-7f3a"
    assert client.get("/api/auth/whoami", headers={"Authorization": bogus}).status_code == 401
    assert client.get("/list/", headers={"Authorization": bogus}).status_code == 401

    events = {json.loads(r.getMessage())["event"] for r in caplog.records if r.name == AUDIT}
    assert {"sign_in", "refresh", "refresh_reuse", "password_change", "logout", "deletion"} <= events
    assert len(tokens) >= 14
    secrets = {first, second, wrong, PASSWORD, bogus, bogus.split()[1], *tokens, *hashes}
    secrets |= {h.rsplit("$", 1)[-1] for h in hashes}  # the digest alone, too
    secrets |= {f"Bearer {token}" for token in tokens}
    messages = [record.getMessage() for record in caplog.records]
    messages += [str(record.args) for record in caplog.records if record.args]
    messages.append(caplog.text)
    for secret in secrets:
        leaks = [message for message in messages if secret in message]
        assert not leaks, f"a secret appears in the log: {leaks[0][:200]!r}"
