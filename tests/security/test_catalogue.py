"""The hostile-input catalogue: every row is an attack (its pytest id), the endpoint it hits, and the
safe answer: a status with its section 2 ``code``, or section 1's exact body.

Beyond its own answer, every response passes ``assert_safe``: no 5xx, JSON, the security headers, no
traceback, never the password it was sent, and a ``WWW-Authenticate`` that says ``invalid_token`` exactly
when a presented token failed. Forgeries are cut from a real session, and the ``control`` rows (the same
claims re-signed untouched) must still work, so each refusal is the forgery's doing, not the harness's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authsvc.db import get_engine, session_scope
from authsvc.domain import username_key
from authsvc.keys import secret_kid
from authsvc.models import Role, User
from tests.conftest import build_app, login, make_settings
from tests.helpers import BAD_LOGIN, BAD_REFRESH, BAD_TOKEN, MISSING_HEADER, PASSWORD, bearer, sign_in_from

TOKEN, TOKEN_REFRESH, LIST = "/token/", "/token/refresh/", "/list/"
REGISTER, LOGIN, WHOAMI = "/api/auth/register", "/api/auth/login", "/api/auth/whoami"
REFRESH, LOGOUT, CHANGE = "/api/auth/refresh", "/api/auth/logout", "/api/auth/password"
USER, USERS = "/api/users/{victim}", "/api/users/all"
FORGOT, RESET = "/api/auth/password/forgot", "/api/auth/password/reset"
VERIFY, RESEND = "/api/auth/email/verify", "/api/auth/email/verify/resend"
EMAIL, CONFIRM = "/api/auth/email", "/api/auth/email/confirm"
SHORT = {
    FORGOT: "forgot",
    RESET: "reset",
    VERIFY: "verify",
    RESEND: "resend",
    EMAIL: "email-change",
    CONFIRM: "email-confirm",
    TOKEN: "token",
    TOKEN_REFRESH: "token-refresh",
    LIST: "list",
    REGISTER: "register",
    LOGIN: "login",
    WHOAMI: "whoami",
    REFRESH: "refresh",
    LOGOUT: "logout",
    CHANGE: "password",
    USER: "patch-user",
    USERS: "users-all",
}

MIB = 1024 * 1024
NEW_PASSWORD = "a-brand-new-passphrase-42"


@dataclass(frozen=True)
class Answer:
    """The safe answer: a status and a section 2 ``code`` (naming ``field`` for a 400), or an exact body."""

    status: int | tuple[int, ...]
    code: str | tuple[str, ...] | None = None
    body: bytes | None = None
    field: str | None = None
    fields: dict[str, Any] | None = None  # on success: these keys of the JSON body hold these values


def err(status: int, code: str, field: str | None = None) -> Answer:
    return Answer(status, code, field=field)


def invalid(field: str | None = None) -> Answer:
    return err(400, "validation_error", field)


def exact(body: bytes) -> Answer:
    return Answer(401, body=body)


OK = Answer(200)
CREDENTIALS = err(401, "invalid_credentials")
INVALID_TOKEN = err(401, "invalid_token")
MISSING_TOKEN = err(401, "missing_token")
TOO_LARGE = err(413, "payload_too_large")
# What each token-taking endpoint answers for a token that is not a valid, live one of the right type.
DENIED = {
    LIST: exact(BAD_TOKEN),
    WHOAMI: INVALID_TOKEN,
    TOKEN_REFRESH: exact(BAD_REFRESH),
    REFRESH: INVALID_TOKEN,
    LOGOUT: INVALID_TOKEN,
}


# --- the checks every row makes ---


def assert_safe(response: TestResponse, secrets: set[str] | None = None) -> None:
    """No 5xx, always JSON with the security headers, no traceback, never a password sent."""
    assert response.status_code < 500, response.data[:300]
    assert response.mimetype == "application/json", response.data[:300]
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "no-referrer"
    assert b"Traceback" not in response.data
    for secret in secrets or {PASSWORD}:
        for form in {secret, json.dumps(secret)[1:-1]}:
            # surrogatepass: a password holding a lone surrogate would come back as those bytes
            assert form.encode("utf-8", "surrogatepass") not in response.data, "a password came back"


def check_answer(response: TestResponse, answer: Answer) -> None:
    statuses = answer.status if isinstance(answer.status, tuple) else (answer.status,)
    assert response.status_code in statuses, response.data[:300]
    if answer.body is not None:
        assert response.data == answer.body  # section 1: byte for byte
    body = response.get_json()
    if answer.code is not None:
        codes = answer.code if isinstance(answer.code, tuple) else (answer.code,)
        assert body["code"] in codes, body
        assert isinstance(body["detail"], str) and body["detail"]
        if answer.field is not None:
            assert ["body", answer.field] in [item["loc"] for item in body["errors"]], body
    for key, value in (answer.fields or {}).items():
        assert body[key] == value, body
    check_www_authenticate(response)


def check_www_authenticate(response: TestResponse) -> None:
    """RFC 6750: ``invalid_token`` for a presented token that failed, a bare ``Bearer`` otherwise."""
    if response.status_code != 401:
        return
    www = response.headers.get("WWW-Authenticate", "")
    body = response.get_json()
    code = body.get("code") if isinstance(body, dict) else None
    if code == "invalid_token" or response.data in (BAD_TOKEN, BAD_REFRESH):
        assert www.startswith('Bearer error="invalid_token"'), www
    elif code == "missing_token" or response.data == MISSING_HEADER:
        assert www == "Bearer", www
    elif code == "invalid_client":  # a service client's credentials: HTTP Basic, not a token
        assert www.startswith("Basic realm="), www
    else:  # a wrong password is not a bad token
        assert www.startswith("Bearer") and "invalid_token" not in www, www


def passwords_in(request_kwargs: dict[str, Any]) -> set[str]:
    body = request_kwargs.get("json")
    found = {PASSWORD, NEW_PASSWORD}
    if isinstance(body, dict):
        for key in ("password", "current_password", "new_password"):
            if isinstance(body.get(key), str) and len(body[key]) >= 8:
                found.add(body[key])
    return found


# --- the world each row attacks: an admin, a victim with a live session, a deactivated account ---


@dataclass
class World:
    app: Flask
    client: FlaskClient
    admin: User
    victim: User
    tokens: dict[str, dict[str, Any]]

    @property
    def secret(self) -> str:
        return self.app.extensions["authsvc.codec"].secret

    def token(self, kind: str, who: str = "victim") -> str:
        return self.tokens[who][f"{kind}_token"]

    def claims(self, kind: str) -> dict[str, Any]:
        return jwt.decode(self.token(kind), options={"verify_signature": False})

    def headers(self, who: str | None) -> dict[str, str]:
        return bearer(self.token("access", who)) if who else {}

    def set_active(self, user: User, active: bool) -> None:
        """Flip the flag in the database only: no session is revoked, so the check itself is tested."""
        with self.app.app_context(), session_scope(get_engine(self.app)) as session:
            row = session.get(User, user.id)
            assert row is not None
            row.is_active = active
            session.add(row)
            session.commit()


@pytest.fixture
def world(app, client, make_user) -> World:
    admin = make_user("admin", role=Role.ADMIN)
    victim = make_user("victim")
    make_user("dormant", is_active=False)
    return World(
        app, client, admin, victim, {"admin": login(client, "admin"), "victim": login(client, "victim")}
    )


def assert_accounts_intact(world: World) -> None:
    """No table dropped, no password, role or activation changed by the attack."""
    for name in ("admin", "victim"):
        response = world.client.post(LOGIN, json={"username": name, "password": PASSWORD})
        assert response.status_code == 200, (name, response.data)
    everyone = world.client.get(LIST, headers=world.headers("admin")).get_json()
    roles = {u["username"]: (u["role"], u["is_active"]) for u in everyone}
    assert roles["admin"] == ("admin", True) and roles["victim"] == ("user", True)


# === 1. hostile bodies ===

SQLI = {"or-1-equals-1": "' OR '1'='1", "comment-out": "admin'--", "drop-table": '"; DROP TABLE user; --'}
NE_NULL, GT_EMPTY = {"$ne": None}, {"$gt": ""}
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a": ' * 100_000 + "1" + "}" * 100_000
LONE = "\ud800"  # a lone surrogate: a code point JSON can escape but no UTF-8 text can hold
CESU_CREDS = b'{"username": "\xed\xa0\x80", "password": "x"}'  # invalid UTF-8: U+D800's would-be bytes


def body_case(
    attack: str,
    path: str,
    answer: Answer,
    *,
    auth: str | None = None,
    method: str | None = None,
    **request: Any,
):
    method = method or ("patch" if path == USER else "post")
    return pytest.param(method, path, auth, request, answer, id=f"{attack}@{SHORT[path]}")


def creds(username: str = "admin", password: Any = PASSWORD) -> dict[str, Any]:
    return {"username": username, "password": password}


def new_account(**fields: Any) -> dict[str, Any]:
    return {"username": "mallory", "email": "mallory@example.com", "password": "mallory-pass-77", **fields}


def change(current: Any = PASSWORD, new: Any = NEW_PASSWORD) -> dict[str, Any]:
    return {"current_password": current, "new_password": new}


def raw(text: str | bytes, content_type: str = "application/json") -> dict[str, Any]:
    return {"data": text, "content_type": content_type}


def email_change(new_email: Any = "new@example.com", current: Any = PASSWORD) -> dict[str, Any]:
    return {"new_email": new_email, "current_password": current}


LINK = "A" * 43  # a token of the right shape that no link ever carried
FORGOT_SENT = Answer(202, fields={"message": "If that address has an account, a reset link is on its way."})


BODY_CASES = [
    # --- malformed and oversized ---
    *[
        body_case("over-1mib-body", path, TOO_LARGE, auth=auth, json={**body, "pad": "p" * MIB})
        for path, auth, body in [
            (TOKEN, None, creds()),
            (LOGIN, None, creds()),
            (REGISTER, None, new_account()),
            (TOKEN_REFRESH, None, {"refresh": "x.y.z"}),
            (CHANGE, "victim", change()),
            (USER, "admin", {"role": "admin"}),
            (FORGOT, None, {"email": "victim@example.com"}),
            (RESET, None, {"token": LINK, "new_password": NEW_PASSWORD}),
            (VERIFY, None, {"token": LINK}),
            (RESEND, None, {"email": "victim@example.com"}),
            (EMAIL, "victim", email_change()),
            (CONFIRM, None, {"token": LINK}),
        ]
    ],
    body_case("json-nested-100k-arrays-deep", LOGIN, err(400, "invalid_json"), **raw(DEEP_ARRAY)),
    body_case("json-nested-100k-objects-deep", TOKEN, err(400, "invalid_json"), **raw(DEEP_OBJECT)),
    body_case(
        "json-5000-digit-number", LOGIN, err(400, "invalid_json"), **raw('{"username": ' + "9" * 5000 + "}")
    ),
    body_case(
        "json-nan-and-infinity", LOGIN, invalid("username"), **raw('{"username": NaN, "password": Infinity}')
    ),
    body_case(
        "json-truncated", CHANGE, err(400, "invalid_json"), auth="victim", **raw('{"current_password": "')
    ),
    body_case(
        "json-invalid-utf8", USER, err(400, "invalid_json"), auth="admin", **raw(b'{"email": "\xff\xfe"}')
    ),
    body_case("json-array-not-object", USER, invalid(), auth="admin", **raw('[{"role": "admin"}]')),
    body_case("form-encoded-body", CHANGE, err(415, "unsupported_media_type"), auth="victim", data=change()),
    body_case(
        "duplicate-keys-last-wins",
        LOGIN,
        CREDENTIALS,
        **raw('{"username": "nobody", "username": "admin", "password": "wrong-password-1"}'),
    ),
    # --- wrong types: strings are never coerced ---
    body_case("username-as-list", LOGIN, invalid("username"), json=creds(["admin"])),
    body_case("password-as-bool", TOKEN, invalid("password"), json=creds(password=True)),
    body_case("password-as-number", REGISTER, invalid("password"), json=new_account(password=123456789)),
    body_case("email-as-object", REGISTER, invalid("email"), json=new_account(email={"x": 1})),
    body_case("refresh-as-object", TOKEN_REFRESH, invalid("refresh"), json={"refresh": {"token": "x"}}),
    body_case(
        "current-password-as-number", CHANGE, invalid("current_password"), auth="victim", json=change(1)
    ),
    body_case("is-active-as-string", USER, invalid("is_active"), auth="admin", json={"is_active": "false"}),
    body_case("is-active-as-number", USER, invalid("is_active"), auth="admin", json={"is_active": 0}),
    body_case("role-unknown", USER, invalid("role"), auth="admin", json={"role": "superuser"}),
    # --- SQL injection: just odd strings, refused like any wrong input ---
    *[body_case(f"sqli-{k}-as-username", TOKEN, exact(BAD_LOGIN), json=creds(s)) for k, s in SQLI.items()],
    *[body_case(f"sqli-{k}-as-username", LOGIN, CREDENTIALS, json=creds(s)) for k, s in SQLI.items()],
    *[
        body_case(f"sqli-{k}-as-password", TOKEN, exact(BAD_LOGIN), json=creds(password=s))
        for k, s in SQLI.items()
    ],
    *[
        body_case(f"sqli-{k}-as-password", LOGIN, CREDENTIALS, json=creds(password=s))
        for k, s in SQLI.items()
    ],
    *[
        body_case(f"sqli-{k}-as-username", REGISTER, invalid("username"), json=new_account(username=s))
        for k, s in SQLI.items()
    ],
    body_case(
        "sqli-as-email", REGISTER, invalid("email"), json=new_account(email="x@example.com' OR '1'='1")
    ),
    body_case(
        "sqli-as-email", USER, invalid("email"), auth="admin", json={"email": "'; DROP TABLE user; --"}
    ),
    body_case(
        "sqli-as-refresh-token", TOKEN_REFRESH, exact(BAD_REFRESH), json={"refresh": SQLI["or-1-equals-1"]}
    ),
    body_case(
        "sqli-in-search-matches-nothing",
        USERS,
        Answer(200, fields={"total": 0, "items": []}),
        auth="admin",
        method="get",
        query_string={"q": SQLI["or-1-equals-1"]},
    ),
    # --- NoSQL operator shapes: a string field given an object ---
    body_case("nosql-ne-null-as-username", TOKEN, invalid("username"), json=creds(NE_NULL)),
    body_case("nosql-ne-null-as-username", LOGIN, invalid("username"), json=creds(NE_NULL)),
    body_case("nosql-gt-empty-as-password", TOKEN, invalid("password"), json=creds(password=GT_EMPTY)),
    body_case("nosql-gt-empty-as-password", LOGIN, invalid("password"), json=creds(password=GT_EMPTY)),
    body_case("nosql-both-operators", LOGIN, invalid("password"), json=creds(NE_NULL, GT_EMPTY)),
    body_case("nosql-ne-null-as-username", REGISTER, invalid("username"), json=new_account(username=NE_NULL)),
    body_case(
        "nosql-gt-empty-as-password", REGISTER, invalid("password"), json=new_account(password=GT_EMPTY)
    ),
    body_case("nosql-ne-null-as-refresh", TOKEN_REFRESH, invalid("refresh"), json={"refresh": NE_NULL}),
    body_case(
        "nosql-gt-empty-as-current", CHANGE, invalid("current_password"), auth="victim", json=change(GT_EMPTY)
    ),
    body_case("nosql-ne-null-as-email", USER, invalid("email"), auth="admin", json={"email": NE_NULL}),
    body_case("nosql-ne-null-as-role", USER, invalid("role"), auth="admin", json={"role": NE_NULL}),
    # --- a NUL byte in every string field (PostgreSQL refuses NUL in text: it must never get there) ---
    body_case("nul-in-username", TOKEN, exact(BAD_LOGIN), json=creds("admin\x00")),
    body_case("nul-in-password", TOKEN, exact(BAD_LOGIN), json=creds(password=PASSWORD + "\x00")),
    body_case("nul-in-username", LOGIN, CREDENTIALS, json=creds("ad\x00min")),
    body_case("nul-in-password", LOGIN, CREDENTIALS, json=creds(password="\x00" + PASSWORD)),
    body_case("nul-in-refresh", TOKEN_REFRESH, exact(BAD_REFRESH), json={"refresh": "eyJ\x00.eyJ.sig"}),
    body_case("nul-in-username", REGISTER, invalid("username"), json=new_account(username="mal\x00lory")),
    body_case("nul-in-email", REGISTER, invalid("email"), json=new_account(email="mal\x00lory@example.com")),
    body_case("nul-in-password", REGISTER, invalid("password"), json=new_account(password="mallory\x00pass")),
    body_case("nul-in-current-password", CHANGE, CREDENTIALS, auth="victim", json=change(PASSWORD + "\x00")),
    body_case(
        "nul-in-new-password",
        CHANGE,
        invalid("new_password"),
        auth="victim",
        json=change(new="new\x00pass-42"),
    ),
    body_case("nul-in-email", USER, invalid("email"), auth="admin", json={"email": "v\x00@example.com"}),
    body_case("nul-in-role", USER, invalid("role"), auth="admin", json={"role": "admin\x00"}),
    body_case(
        "nul-in-search",
        USERS,
        Answer(200, fields={"total": 0}),
        auth="admin",
        method="get",
        query_string={"q": "ad\x00min"},
    ),
    # --- a lone surrogate (not text: no UTF-8 form) in every string field, as a JSON escape or as the
    # raw bytes Python's JSON decoder lets through; section 1 answers it as an impossible credential ---
    body_case("lone-surrogate-in-username", TOKEN, exact(BAD_LOGIN), json=creds(LONE)),
    body_case("lone-surrogate-in-password", TOKEN, exact(BAD_LOGIN), json=creds(password=PASSWORD + LONE)),
    body_case("lone-surrogate-bytes-in-username", TOKEN, exact(BAD_LOGIN), **raw(CESU_CREDS)),
    body_case("lone-surrogate-in-refresh", TOKEN_REFRESH, exact(BAD_REFRESH), json={"refresh": "eyJ" + LONE}),
    body_case("lone-surrogate-in-username", LOGIN, invalid("username"), json=creds("ad" + LONE + "min")),
    body_case("lone-surrogate-in-password", LOGIN, invalid("password"), json=creds(password=LONE)),
    body_case("lone-surrogate-bytes-in-username", LOGIN, invalid("username"), **raw(CESU_CREDS)),
    body_case("reversed-surrogate-pair-in-username", LOGIN, invalid("username"), json=creds("\ude00\ud83d")),
    body_case("lone-surrogate-in-username", REGISTER, invalid("username"), json=new_account(username=LONE)),
    body_case("lone-surrogate-in-email", REGISTER, invalid("email"), json=new_account(email=LONE + "@x.org")),
    body_case(
        "lone-surrogate-in-password",
        REGISTER,
        invalid("password"),
        json=new_account(password="mallory" + LONE),
    ),
    body_case(
        "lone-surrogate-in-current-password",
        CHANGE,
        invalid("current_password"),
        auth="victim",
        json=change(LONE),
    ),
    body_case(
        "lone-surrogate-in-new-password",
        CHANGE,
        invalid("new_password"),
        auth="victim",
        json=change(new=LONE * 9),
    ),
    body_case(
        "lone-surrogate-in-email", USER, invalid("email"), auth="admin", json={"email": "v@x.org" + LONE}
    ),
    body_case("lone-surrogate-in-role", USER, invalid("role"), auth="admin", json={"role": LONE}),
    # controls: a real astral character (a valid surrogate pair) is text, and an ignored field is ignored
    body_case("astral-character-in-username", LOGIN, CREDENTIALS, json=creds("admin\U0001f600")),
    body_case("astral-character-in-username", TOKEN, exact(BAD_LOGIN), json=creds("admin\U0001f600")),
    body_case("lone-surrogate-in-ignored-field", LOGIN, OK, json={**creds(), "note": LONE}),
    # --- over-long passwords and names: refused, never a 500 ---
    body_case("password-1025-chars", REGISTER, invalid("password"), json=new_account(password="p" * 1025)),
    body_case(
        "new-password-1025-chars", CHANGE, invalid("new_password"), auth="victim", json=change(new="p" * 1025)
    ),
    body_case("password-5000-chars", LOGIN, CREDENTIALS, json=creds(password="p" * 5000)),
    body_case("password-5000-chars", TOKEN, exact(BAD_LOGIN), json=creds(password="p" * 5000)),
    body_case("current-password-5000-chars", CHANGE, CREDENTIALS, auth="victim", json=change("p" * 5000)),
    body_case("username-10000-chars", LOGIN, CREDENTIALS, json=creds("a" * 10_000)),
    body_case("username-10000-chars", TOKEN, exact(BAD_LOGIN), json=creds("a" * 10_000)),
    # --- wrong current password with a valid token: bad credentials, not a bad token ---
    body_case("wrong-current-password", CHANGE, CREDENTIALS, auth="victim", json=change("wrong-password-1")),
    # --- mass assignment: role, activation and id never come from a body, except an admin's PATCH ---
    body_case(
        "register-claims-admin-role",
        REGISTER,
        Answer(201, fields={"role": "user", "is_active": True, "username": "mallory"}),
        json=new_account(role="admin", is_active=False, id=1),
    ),
    body_case("user-promotes-self", USER, err(403, "forbidden"), auth="victim", json={"role": "admin"}),
    body_case(
        "user-verifies-self", USER, err(403, "forbidden"), auth="victim", json={"email_verified": True}
    ),
    # --- email (API.md section 6): a bad link is one 400, a field of the wrong type another ---
    body_case(
        "email-verified-as-string",
        USER,
        invalid("email_verified"),
        auth="admin",
        json={"email_verified": "true"},
    ),
    body_case(
        "email-verified-as-number", USER, invalid("email_verified"), auth="admin", json={"email_verified": 1}
    ),
    body_case("forgot-for-a-real-account", FORGOT, FORGOT_SENT, json={"email": "victim@example.com"}),
    body_case("forgot-for-no-account", FORGOT, FORGOT_SENT, json={"email": "nobody@example.com"}),
    body_case("forgot-for-a-deactivated-account", FORGOT, FORGOT_SENT, json={"email": "dormant@example.com"}),
    body_case("nul-in-email", FORGOT, invalid("email"), json={"email": "victim\x00@example.com"}),
    body_case(
        "crlf-bcc-in-email",
        FORGOT,
        invalid("email"),
        json={"email": "victim@example.com\r\nBcc: x@evil.example"},
    ),
    body_case("email-as-list", RESEND, invalid("email"), json={"email": ["victim@example.com"]}),
    body_case(
        "lone-surrogate-in-token",
        RESET,
        invalid("token"),
        json={"token": LONE * 43, "new_password": NEW_PASSWORD},
    ),
    body_case("token-as-number", VERIFY, invalid("token"), json={"token": 4242}),
    body_case("nosql-ne-null-as-token", CONFIRM, invalid("token"), json={"token": NE_NULL}),
    body_case("sqli-as-token", CONFIRM, err(400, "invalid_link"), json={"token": SQLI["or-1-equals-1"]}),
    body_case(
        "sqli-43-chars-as-token",
        VERIFY,
        err(400, "invalid_link"),
        json={"token": "' OR 1=1 --".ljust(43, "x")},
    ),
    body_case(
        "unknown-token", RESET, err(400, "invalid_link"), json={"token": LINK, "new_password": NEW_PASSWORD}
    ),
    body_case(
        "wrong-current-password",
        EMAIL,
        CREDENTIALS,
        auth="victim",
        json=email_change(current="wrong-password-1"),
    ),
    body_case(
        "crlf-in-new-email",
        EMAIL,
        invalid("new_email"),
        auth="victim",
        json=email_change("a@example.com\r\nCc: b@x.org"),
    ),
    body_case(
        "email-change-to-the-admins-address",
        EMAIL,
        err(409, "email_taken"),
        auth="victim",
        json=email_change("ADMIN@example.com"),
    ),
    body_case("email-change-without-a-token", EMAIL, MISSING_TOKEN, json=email_change()),
]


@pytest.mark.parametrize(("method", "path", "auth", "request_kwargs", "answer"), BODY_CASES)
def test_hostile_body(world, method, path, auth, request_kwargs, answer):
    url = path.format(victim=world.victim.id)
    response = getattr(world.client, method)(url, headers=world.headers(auth), **request_kwargs)
    assert_safe(response, passwords_in(request_kwargs))
    check_answer(response, answer)
    if response.status_code == 201:
        assert response.get_json()["id"] not in (world.admin.id, world.victim.id)
    assert_accounts_intact(world)


# === 2. look-alike usernames: allowed or refused, never a second way into "admin" ===

ATTACKER_PASSWORD = "attacker-pass-9z"
TAKEN = err(409, "username_taken")
ALLOWED_OR_REFUSED = Answer((201, 400))

LOOKALIKES = [
    pytest.param("ａｄｍｉｎ", TAKEN, id="fullwidth-admin@register"),
    pytest.param("𝐚𝐝𝐦𝐢𝐧", TAKEN, id="math-bold-admin@register"),
    pytest.param("ADMIN", TAKEN, id="uppercase-admin@register"),
    pytest.param(" admin\t", TAKEN, id="padded-admin@register"),
    pytest.param("ad\u200bmin", invalid("username"), id="zero-width-space@register"),
    pytest.param("ad\u200dmin", invalid("username"), id="zero-width-joiner@register"),
    pytest.param("\u202enimda", invalid("username"), id="rtl-override@register"),
    pytest.param("admin\u0338", ALLOWED_OR_REFUSED, id="combining-overlay@register"),
    pytest.param("a\u0300dmin", ALLOWED_OR_REFUSED, id="combining-grave@register"),
    pytest.param("\u0430dmin", ALLOWED_OR_REFUSED, id="cyrillic-a-homoglyph@register"),
    pytest.param("adm\u0131n", ALLOWED_OR_REFUSED, id="dotless-i-homoglyph@register"),
    pytest.param("ADM\u0130N", Answer((201, 400, 409)), id="turkish-dotted-capital-i@register"),
]


@pytest.mark.parametrize(("username", "answer"), LOOKALIKES)
def test_lookalike_username(world, username, answer):
    body = {"username": username, "email": f"{uuid.uuid4().hex}@example.com", "password": ATTACKER_PASSWORD}
    response = world.client.post(REGISTER, json=body)
    assert_safe(response, {PASSWORD, ATTACKER_PASSWORD})
    check_answer(response, answer)

    # the attacker's password never opens the admin's account, under either spelling
    for name in ("admin", username):
        attempt = world.client.post(LOGIN, json={"username": name, "password": ATTACKER_PASSWORD})
        if attempt.status_code == 200:
            me = world.client.get(WHOAMI, headers=bearer(attempt.get_json()["access_token"])).get_json()
            assert me["id"] != world.admin.id and me["role"] == "user"
            assert username_key(me["username"]) != "admin"
    everyone = world.client.get(LIST, headers=world.headers("admin")).get_json()
    assert [u["id"] for u in everyone if username_key(u["username"]) == "admin"] == [world.admin.id]


# === 3. forged, cross-typed and dead tokens ===

Forge = Callable[[World, str], str]
DROP = object()
ACCESS_ENDPOINTS, REFRESH_ENDPOINTS = (LIST, WHOAMI), (TOKEN_REFRESH, REFRESH)
EVERY = (*ACCESS_ENDPOINTS, *REFRESH_ENDPOINTS)
# One access endpoint (section 2's answer) and one refresh endpoint (section 1's exact body) share the
# guard and the service with the other two; the headline attacks run against all four.
PAIR = (WHOAMI, TOKEN_REFRESH)
OTHER_SECRET = "another-service-secret-0123456789abcdef"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(part: dict[str, Any]) -> str:
    return b64url(json.dumps(part, separators=(",", ":")).encode())


def hmac_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes, digest=hashlib.sha256) -> str:
    """A JWT made by hand, so that no library refuses (or warns about) what is being forged."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    return f"{signing_input}.{b64url(hmac.new(key, signing_input.encode(), digest).digest())}"


def reclaimed(**changes: Any) -> Forge:
    """The genuine claims with ``changes`` (a callable gets the world and the genuine claims; DROP
    removes the claim), minted by ``jwt.encode`` with the app's own secret."""

    def forge(world: World, kind: str) -> str:
        original = world.claims(kind)
        claims = dict(original)
        for name, value in changes.items():
            if value is DROP:
                del claims[name]
            else:
                claims[name] = value(world, original) if callable(value) else value
        return jwt.encode(claims, world.secret, algorithm="HS256")

    return forge


def headed(header: dict[str, Any], digest=hashlib.sha256, key: bytes | None = None) -> Forge:
    """The genuine claims under ``header``, HMAC-signed with the app's secret (or ``key``)."""

    def forge(world: World, kind: str) -> str:
        return hmac_signed(header, world.claims(kind), world.secret.encode() if key is None else key, digest)

    return forge


def kid_headed(**extra: Any) -> Forge:
    """HMAC-signed with the app's secret under the secret's own kid, plus header members ``extra``."""

    def forge(world: World, kind: str) -> str:
        header = {"alg": "HS256", "typ": "JWT", "kid": secret_kid(world.secret), **extra}
        return hmac_signed(header, world.claims(kind), world.secret.encode())

    return forge


def unsigned(alg: str, *, keep_signature: bool = False) -> Forge:
    def forge(world: World, kind: str) -> str:
        signature = world.token(kind).rsplit(".", 1)[1] if keep_signature else ""
        return f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(world.claims(kind))}.{signature}"

    return forge


def tampered(**changes: Any) -> Forge:
    """Claims edited in place, the original header and signature kept."""

    def forge(world: World, kind: str) -> str:
        header, _, signature = world.token(kind).split(".")
        claims = world.claims(kind)
        claims.update({k: v(world, claims) if callable(v) else v for k, v in changes.items()})
        return f"{header}.{segment(claims)}.{signature}"

    return forge


def edited(edit: Callable[[str], str]) -> Forge:
    return lambda world, kind: edit(world.token(kind))


def after(action: Callable[[World], None]) -> Forge:
    """The victim's genuine token, presented after ``action``."""

    def forge(world: World, kind: str) -> str:
        action(world)
        return world.token(kind)

    return forge


def sign_out(world: World) -> None:
    assert world.client.post(LOGOUT, headers=world.headers("victim")).status_code == 200


def delete_account(world: World) -> None:
    url = USER.format(victim=world.victim.id)
    password = {"current_password": PASSWORD}
    assert world.client.delete(url, headers=world.headers("victim"), json=password).status_code == 204


def deactivate(world: World) -> None:
    world.set_active(world.victim, False)


def change_password(world: World) -> None:
    response = world.client.post(CHANGE, headers=world.headers("victim"), json=change())
    assert response.status_code == 200


def rotate(world: World) -> None:
    assert world.client.post(REFRESH, headers=bearer(world.token("refresh"))).status_code == 200


def child_of_replayed_refresh(world: World, kind: str) -> str:
    """Rotate, then replay the spent refresh token: the whole family dies, the new child included."""
    child = world.client.post(REFRESH, headers=bearer(world.token("refresh"))).get_json()
    assert world.client.post(REFRESH, headers=bearer(world.token("refresh"))).status_code == 401
    return child[f"{kind}_token"]


def fullwidth_digits(world: World, claims: dict[str, Any]) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in claims["sub"])


def lifetime_ago(world: World, claims: dict[str, Any]) -> int:
    """Issued one whole lifetime and a minute ago..."""
    return claims["iat"] - (claims["exp"] - claims["iat"]) - 60


def minute_ago(world: World, claims: dict[str, Any]) -> int:
    """...so it expired a minute ago."""
    return claims["iat"] - 60


def forgery(attack: str, forge: Forge, endpoints: tuple[str, ...] = PAIR, answer: Answer | None = None):
    return [pytest.param(e, forge, answer or DENIED[e], id=f"{attack}@{SHORT[e]}") for e in endpoints]


CLAIMS = ["exp", "iat", "nbf", "jti", "sub", "type", "sid", "iss", "aud"]

TOKEN_CASES = [
    # controls: the same claims re-signed untouched work, so the harness is not what refuses below
    *forgery("control-re-encoded-untouched", reclaimed(), answer=OK, endpoints=(*EVERY, LOGOUT)),
    *forgery(
        "control-hand-signed-untouched", headed({"alg": "HS256", "typ": "JWT"}), answer=OK, endpoints=EVERY
    ),
    # algorithm and header tricks
    *forgery("alg-none", unsigned("none"), endpoints=EVERY),
    *forgery("alg-None-capitalised", unsigned("None"), endpoints=(WHOAMI, TOKEN_REFRESH, LOGOUT)),
    *forgery("alg-none-original-signature", unsigned("none", keep_signature=True)),
    *forgery("alg-HS384-real-secret", headed({"alg": "HS384", "typ": "JWT"}, hashlib.sha384)),
    *forgery(
        "alg-HS512-real-secret", headed({"alg": "HS512", "typ": "JWT"}, hashlib.sha512), endpoints=EVERY
    ),
    *forgery("alg-RS256-header-hmac-signed", headed({"alg": "RS256", "typ": "JWT"}), endpoints=EVERY),
    *forgery("alg-missing", headed({"typ": "JWT"})),
    *forgery("control-hand-signed-with-the-secrets-kid", kid_headed(), answer=OK, endpoints=EVERY),
    *forgery("kid-header", headed({"alg": "HS256", "typ": "JWT", "kid": "1"}), endpoints=EVERY),
    *forgery("kid-not-a-string", headed({"alg": "HS256", "typ": "JWT", "kid": ["1"]})),
    *forgery(
        "jku-header-beside-the-real-kid", kid_headed(jku="https://evil.example/jwks.json"), endpoints=EVERY
    ),
    *forgery("x5u-header-beside-the-real-kid", kid_headed(x5u="https://evil.example/cert.pem")),
    *forgery("jwk-header-beside-the-real-kid", kid_headed(jwk={"kty": "oct", "k": "c2VjcmV0"})),
    *forgery("crit-header-beside-the-real-kid", kid_headed(crit=["exp"])),
    *forgery("kid-path-traversal-empty-key", headed({"alg": "HS256", "kid": "../../dev/null"}, key=b"")),
    *forgery("typ-at+jwt", headed({"alg": "HS256", "typ": "at+jwt"})),
    *forgery("typ-JOSE+JSON", headed({"alg": "HS256", "typ": "JOSE+JSON"})),
    # signatures
    *forgery(
        "tampered-sub-to-admin-original-signature",
        tampered(sub=lambda w, c: str(w.admin.id)),
        endpoints=EVERY,
    ),
    *forgery("tampered-exp-original-signature", tampered(exp=lambda w, c: c["exp"] + 86_400)),
    *forgery(
        "signed-with-another-secret",
        headed({"alg": "HS256", "typ": "JWT"}, key=OTHER_SECRET.encode()),
        endpoints=EVERY,
    ),
    *forgery("signed-with-empty-secret", headed({"alg": "HS256", "typ": "JWT"}, key=b"")),
    *forgery("signature-stripped", edited(lambda t: t.rsplit(".", 1)[0] + ".")),
    # every required claim, missing
    *[f for claim in CLAIMS for f in forgery(f"missing-{claim}", reclaimed(**{claim: DROP}))],
    # time, issuer, audience
    *forgery("nbf-in-future", reclaimed(nbf=lambda w, c: c["iat"] + 3600)),
    *forgery("iat-in-future", reclaimed(iat=lambda w, c: c["iat"] + 3600)),
    *forgery(
        "expired-a-minute-ago", reclaimed(iat=lifetime_ago, nbf=lifetime_ago, exp=minute_ago), endpoints=EVERY
    ),
    *forgery("exp-not-a-number", reclaimed(exp="never")),
    *forgery("wrong-iss", reclaimed(iss="evil-issuer")),
    *forgery("wrong-aud", reclaimed(aud="another-service")),
    *forgery("aud-list-without-ours", reclaimed(aud=["another-service"])),
    # subject, type and ids
    *forgery("sub-not-digits", reclaimed(sub="admin")),
    *forgery("sub-integer-not-string", reclaimed(sub=lambda w, c: int(c["sub"]))),
    *forgery("sub-negative", reclaimed(sub="-1")),
    *forgery("sub-fullwidth-digits", reclaimed(sub=fullwidth_digits)),
    *forgery("sub-of-nonexistent-user", reclaimed(sub="999999")),
    *forgery("sub-2-pow-31-beyond-id-column", reclaimed(sub=str(2**31))),
    *forgery("sub-40-digits", reclaimed(sub="9" * 40)),
    *forgery("sub-zero", reclaimed(sub="0")),
    *forgery("type-unknown", reclaimed(type="admin")),
    *forgery("sid-not-string", reclaimed(sid=12345)),
    *forgery("jti-not-string", reclaimed(jti=12345)),
    # shape
    *forgery("over-long-but-validly-signed", reclaimed(pad="x" * 5000)),
    *forgery("extra-trailing-dot", edited(lambda t: t + ".")),
    *forgery("extra-fourth-segment", edited(lambda t: t + ".e30")),
    *forgery("inner-whitespace", edited(lambda t: t[:10] + " " + t[10:])),
    *forgery("empty", edited(lambda t: "")),
    # the wrong type
    *forgery("refresh-token-as-access", lambda w, kind: w.token("refresh"), endpoints=(LIST, WHOAMI, LOGOUT)),
    *forgery("access-token-as-refresh", lambda w, kind: w.token("access"), endpoints=REFRESH_ENDPOINTS),
    # genuine tokens that are no longer live
    *forgery("revoked-by-logout", after(sign_out), endpoints=(*EVERY, LOGOUT)),
    *forgery("spent-by-rotation", after(rotate), endpoints=REFRESH_ENDPOINTS),
    *forgery("child-of-replayed-refresh", child_of_replayed_refresh, endpoints=EVERY),
    *forgery("user-deleted", after(delete_account), endpoints=(*EVERY, LOGOUT)),
    *forgery("user-deactivated", after(deactivate), endpoints=(*EVERY, LOGOUT)),
    *forgery("password-changed-since", after(change_password), endpoints=EVERY),
]


def present(world: World, endpoint: str, token: str) -> TestResponse:
    if endpoint == TOKEN_REFRESH:
        return world.client.post(TOKEN_REFRESH, json={"refresh": token})
    if endpoint in ACCESS_ENDPOINTS:
        return world.client.get(endpoint, headers=bearer(token))
    return world.client.post(endpoint, headers=bearer(token))


@pytest.mark.parametrize(("endpoint", "forge", "answer"), TOKEN_CASES)
def test_forged_or_dead_token(world, endpoint, forge, answer):
    kind = "refresh" if endpoint in REFRESH_ENDPOINTS else "access"
    response = present(world, endpoint, forge(world, kind))
    assert_safe(response)
    check_answer(response, answer)


# === 4. malformed Authorization headers ===

HeaderMaker = Callable[[World], list[tuple[str, str]]]


def auth_value(make: Callable[[str], str]) -> HeaderMaker:
    """One Authorization header whose value is made from the victim's live access token."""
    return lambda world: [("Authorization", make(world.token("access")))]


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


AUTH_HEADERS: dict[str, HeaderMaker] = {
    "scheme-only": auth_value(lambda t: "Bearer"),
    "scheme-and-spaces": auth_value(lambda t: "Bearer   "),
    "two-tokens-double-spaced": auth_value(lambda t: "Bearer  x  y"),
    "empty-value": auth_value(lambda t: ""),
    "basic-scheme": auth_value(lambda t: basic("user:pass")),
    "basic-with-real-credentials": auth_value(lambda t: basic(f"victim:{PASSWORD}")),
    "wrong-scheme-live-token": auth_value(lambda t: f"Token {t}"),
    "no-scheme-live-token": auth_value(lambda t: t),
    "tab-separated-live-token": auth_value(lambda t: f"Bearer\t{t}"),
    "tabs-and-garbage": auth_value(lambda t: "Bearer\t\tx\ty"),
    "100k-chars": auth_value(lambda t: "Bearer " + "A" * 100_000),
    "live-token-padded-past-limit": auth_value(lambda t: f"Bearer {t}{'A' * 5000}"),
    "comma-joined-live-tokens": auth_value(lambda t: f"Bearer {t}, Bearer {t}"),
    "null-literal": auth_value(lambda t: "Bearer null"),
    "nul-after-live-token": auth_value(lambda t: f"Bearer {t}\x00"),
    # A real server decodes header bytes as latin-1, so U+D800's UTF-8 bytes arrive as three letters;
    # the test client can pass the surrogate itself, as a server decoding with surrogateescape would.
    "surrogate-bytes-after-live-token": auth_value(lambda t: f"Bearer {t}\xed\xa0\x80"),
    "lone-surrogate-after-live-token": auth_value(lambda t: f"Bearer {t}\udc80"),
    "lone-surrogate-as-token": auth_value(lambda t: "Bearer \ud800"),
    "duplicate-headers-garbage": lambda w: [("Authorization", "Bearer a"), ("Authorization", "Bearer b")],
    "duplicate-headers-live-then-garbage": lambda w: [
        ("Authorization", f"Bearer {w.token('access')}"),
        ("Authorization", "Bearer b"),
    ],
    "duplicate-headers-garbage-then-live": lambda w: [
        ("Authorization", "Bearer a"),
        ("Authorization", f"Bearer {w.token('access')}"),
    ],
}
HEADER_CASES = [
    pytest.param(endpoint, make, DENIED[endpoint], id=f"{attack}@{SHORT[endpoint]}")
    for attack, make in AUTH_HEADERS.items()
    for endpoint in (LIST, WHOAMI)
] + [
    pytest.param(LOGOUT, AUTH_HEADERS[attack], INVALID_TOKEN, id=f"{attack}@logout")
    for attack in (
        "basic-with-real-credentials",
        "duplicate-headers-live-then-garbage",
        "no-scheme-live-token",
    )
]


@pytest.mark.parametrize(("endpoint", "make_headers", "answer"), HEADER_CASES)
def test_malformed_authorization(world, endpoint, make_headers, answer):
    method = world.client.post if endpoint == LOGOUT else world.client.get
    response = method(endpoint, headers=make_headers(world))
    assert_safe(response)
    check_answer(response, answer)
    # nothing was signed out by a request that did not authenticate
    assert world.client.get(WHOAMI, headers=world.headers("victim")).status_code == 200


# === 5. a token anywhere but the Authorization header does not count ===

COOKIE_NAMES = (
    "__Secure-refresh_token",  # cookie mode's own name over https (issue 10)
    "access_token_cookie",
    "refresh_token_cookie",
    "access_token",
    "refresh_token",
    "jwt",
    "token",
)
QUERY_NAMES = ("access_token", "refresh_token", "token", "jwt")
# Cookie mode (an SPA's refresh token in an HttpOnly cookie) needs a matching X-CSRF-Token: a cookie
# alone, or a double-submit pair the attacker made up, is refused (401, or 403 for the CSRF check).
COOKIE_REFUSED = Answer((401, 403), ("missing_token", "forbidden"))


def elsewhere(attack: str, method: str, path: str, where: str, kind: str, answer: Answer, **request):
    return pytest.param(method, path, where, kind, request, answer, id=f"{attack}@{method}-{SHORT[path]}")


ELSEWHERE_CASES = [
    elsewhere("no-authorization-header", "get", LIST, "nowhere", "access", exact(MISSING_HEADER)),
    elsewhere("no-authorization-header", "get", WHOAMI, "nowhere", "access", MISSING_TOKEN),
    elsewhere("no-authorization-header", "post", REFRESH, "nowhere", "refresh", MISSING_TOKEN),
    elsewhere("access-token-in-cookie-only", "get", LIST, "cookie", "access", exact(MISSING_HEADER)),
    elsewhere("access-token-in-cookie-only", "get", WHOAMI, "cookie", "access", MISSING_TOKEN),
    elsewhere("access-token-in-cookie-only", "post", LOGOUT, "cookie", "access", MISSING_TOKEN),
    elsewhere("access-token-in-cookie-only", "get", LOGOUT, "cookie", "access", MISSING_TOKEN),
    elsewhere("refresh-token-in-cookie-only", "post", REFRESH, "cookie", "refresh", COOKIE_REFUSED),
    elsewhere(
        "refresh-cookie-with-self-made-csrf-pair",
        "post",
        REFRESH,
        "cookie",
        "refresh",
        COOKIE_REFUSED,
        headers={"X-CSRF-Token": "forged"},
        csrf_cookie="forged",
    ),
    elsewhere("refresh-token-in-cookie-only", "get", REFRESH, "cookie", "refresh", MISSING_TOKEN),
    elsewhere(
        "refresh-token-in-cookie-only",
        "post",
        TOKEN_REFRESH,
        "cookie",
        "refresh",
        invalid("refresh"),
        json={},
    ),
    elsewhere("access-token-in-query-only", "get", LIST, "query", "access", exact(MISSING_HEADER)),
    elsewhere("access-token-in-query-only", "get", WHOAMI, "query", "access", MISSING_TOKEN),
    elsewhere("access-token-in-query-only", "get", LOGOUT, "query", "access", MISSING_TOKEN),
    elsewhere("refresh-token-in-query-only", "get", REFRESH, "query", "refresh", MISSING_TOKEN),
]


@pytest.mark.parametrize(("method", "path", "where", "kind", "request_kwargs", "answer"), ELSEWHERE_CASES)
def test_token_outside_the_header(world, method, path, where, kind, request_kwargs, answer):
    token = world.token(kind)
    request_kwargs = dict(request_kwargs)
    if where == "cookie":
        for name in COOKIE_NAMES:
            world.client.set_cookie(name, token)
        if "csrf_cookie" in request_kwargs:
            forged = request_kwargs.pop("csrf_cookie")
            for name in ("__Host-csrf_refresh_token", "csrf_refresh_token"):
                world.client.set_cookie(name, forged)
    elif where == "query":
        request_kwargs = {**request_kwargs, "query_string": dict.fromkeys(QUERY_NAMES, token)}
    response = getattr(world.client, method)(path, **request_kwargs)
    assert_safe(response)
    check_answer(response, answer)
    # the session is untouched: not signed out, its refresh token not spent
    assert world.client.get(WHOAMI, headers=world.headers("victim")).status_code == 200
    assert world.client.post(REFRESH, headers=bearer(world.token("refresh"))).status_code == 200


# === 6. paths and methods ===

HUGE_ID = "99999999999999999999"
INT32_ID = str(2**31)
NOT_FOUND = err(404, "not_found")


def path_case(attack: str, method: str, path: str, auth: str | None, answer: Answer, **request: Any):
    return pytest.param(method, path, auth, request, answer, id=f"{attack}@{method}")


PATH_CASES = [
    path_case("path-traversal", "get", "/../../etc/passwd", None, NOT_FOUND),
    path_case("encoded-path-traversal", "get", "/api/users/..%2f..%2fetc%2fpasswd", "admin", NOT_FOUND),
    path_case("negative-user-id", "get", "/api/users/-1", "admin", NOT_FOUND),
    path_case("other-users-record", "get", "/api/users/{admin}", "victim", NOT_FOUND),
    path_case("delete-other-users-account", "delete", "/api/users/{admin}", "victim", NOT_FOUND),
    path_case("nul-in-session-id", "delete", "/api/auth/sessions/a%00b", "victim", NOT_FOUND),
    path_case("surrogate-bytes-in-session-id", "delete", "/api/auth/sessions/%ED%A0%80", "victim", NOT_FOUND),
    path_case("invalid-utf8-in-user-id", "get", "/api/users/%FF%ED%A0%80", "admin", NOT_FOUND),
    path_case("invalid-utf8-in-path", "get", "/api/%ED%A0%80", None, NOT_FOUND),
    path_case(
        "surrogate-bytes-in-search",
        "get",
        "/api/users/all?q=%ED%A0%80&q=%FF",
        "admin",
        Answer(200, fields={"total": 0, "items": []}),
    ),
    path_case(
        "method-override-header-ignored",
        "get",
        "/api/users/{victim}",
        "admin",
        OK,
        headers={"X-HTTP-Method-Override": "DELETE"},
    ),
    path_case("unknown-method", "put", LOGIN, None, err(405, "method_not_allowed"), json=creds()),
    *[
        path_case(f"user-id-{name}", method, f"/api/users/{value}", "admin", NOT_FOUND, **request)
        for name, value in [("beyond-int64", HUGE_ID), ("2-pow-31-beyond-id-column", INT32_ID)]
        for method, request in [("get", {}), ("patch", {"json": {"role": "admin"}}), ("delete", {})]
    ],
]


@pytest.mark.parametrize(("method", "path", "auth", "request_kwargs", "answer"), PATH_CASES)
def test_hostile_path(world, method, path, auth, request_kwargs, answer):
    url = path.format(admin=world.admin.id, victim=world.victim.id)
    request_kwargs = dict(request_kwargs)
    headers = {**world.headers(auth), **request_kwargs.pop("headers", {})}
    response = getattr(world.client, method)(url, headers=headers, **request_kwargs)
    assert_safe(response)
    check_answer(response, answer)
    assert_accounts_intact(world)


# === 7. token responses are never cached ===


def obtain(world: World, path: str) -> TestResponse:
    client = world.client
    if path in (TOKEN, LOGIN):
        return client.post(path, json=creds("victim"))
    if path == TOKEN_REFRESH:
        return client.post(path, json={"refresh": world.token("refresh")})
    if path == REFRESH:
        return client.post(path, headers=bearer(world.token("refresh")))
    return client.post(path, headers=world.headers("victim"), json=change())


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=f"token-response-cached-by-a-proxy@{SHORT[p]}")
        for p in (TOKEN, TOKEN_REFRESH, LOGIN, REFRESH, CHANGE)
    ],
)
def test_token_responses_are_not_cacheable(world, path):
    response = obtain(world, path)
    assert_safe(response, {PASSWORD, NEW_PASSWORD})
    check_answer(response, OK)
    assert response.headers["Cache-Control"] == "no-store"


# === 8. guessing one account, spraying many ===

SPRAY_IP = "198.18.0.31"


@pytest.mark.parametrize(
    ("attack", "path", "answer"),
    [
        pytest.param(attack, path, err(429, "rate_limited"), id=f"{attack}@{SHORT[path]}")
        for attack in ("brute-force-6th-guess-on-one-username", "spray-31st-failure-from-one-ip")
        for path in (LOGIN, TOKEN)
    ],
)
def test_throttled(tmp_path, attack, path, answer):
    app = build_app(make_settings(tmp_path, ratelimit_enabled=True))
    try:
        client = app.test_client()
        tag = uuid.uuid4().hex[:8]
        if attack.startswith("brute-force"):  # many addresses, one account
            failures = [sign_in_from(client, f"victim-{tag}", path=path) for _ in range(5)]
            refused = sign_in_from(client, f"victim-{tag}", path=path)
        else:  # one address, many accounts
            failures = [sign_in_from(client, f"name{n}-{tag}", path=path, ip=SPRAY_IP) for n in range(30)]
            refused = sign_in_from(client, f"another-{tag}", path=path, ip=SPRAY_IP)
        assert [r.status_code for r in failures] == [401] * len(failures)
        assert_safe(refused, {"wrong-password"})
        check_answer(refused, answer)
        assert int(refused.headers["Retry-After"]) > 0
    finally:
        get_engine(app).dispose()


# === 9. equal hash work, whoever is asked about (counted, not timed) ===


@pytest.fixture
def verifies(world, monkeypatch) -> list[str]:
    """Every call of the hasher's ``CryptContext.verify`` during the test, by the hash it checked."""
    context = world.app.extensions["authsvc.hasher"].context
    real_verify = context.verify
    calls: list[str] = []

    def counting_verify(secret: str, stored: str, *args: Any, **kwargs: Any) -> bool:
        calls.append(stored)
        return real_verify(secret, stored, *args, **kwargs)

    monkeypatch.setattr(context, "verify", counting_verify)
    return calls


@pytest.mark.parametrize(
    ("path", "username", "password", "answer"),
    [
        pytest.param(path, username, password, answer, id=f"{attack}@{SHORT[path]}")
        for attack, username, password in [
            ("control-right-password", "victim", PASSWORD),
            ("unknown-user", "nobody-at-all", PASSWORD),
            ("wrong-password", "victim", "wrong-password-1"),
            ("deactivated-user", "dormant", PASSWORD),
            ("nul-in-username", "vic\x00tim", PASSWORD),
            ("nul-in-password", "victim", PASSWORD + "\x00"),
            ("password-5000-chars", "victim", "p" * 5000),
            ("username-10000-chars", "v" * 10_000, PASSWORD),
        ]
        for path, answer in [
            (TOKEN, OK if attack.startswith("control") else exact(BAD_LOGIN)),
            (LOGIN, OK if attack.startswith("control") else CREDENTIALS),
        ]
    ],
)
def test_sign_in_costs_exactly_one_verify(world, verifies, path, username, password, answer):
    response = world.client.post(path, json={"username": username, "password": password})
    assert_safe(response, {PASSWORD, password})
    check_answer(response, answer)
    assert len(verifies) == 1
    assert verifies[0].startswith("$bcrypt-sha256$")  # a real bcrypt hash (the dummy one for strangers)


def test_wrong_current_password_costs_one_verify(world, verifies):
    response = world.client.post(CHANGE, headers=world.headers("victim"), json=change("wrong-password-1"))
    assert_safe(response, {PASSWORD, "wrong-password-1"})
    check_answer(response, CREDENTIALS)
    assert len(verifies) == 1


# === 10. introspection: a service client asks about forged and dead tokens; bad client credentials ===

INTROSPECT = "/api/auth/introspect"
INTROSPECTED_ATTACKS: list[tuple[str, Forge, tuple[str, ...]]] = [
    ("control-re-encoded-untouched", reclaimed(), ("access", "refresh")),
    ("control-hand-signed-untouched", headed({"alg": "HS256", "typ": "JWT"}), ("access", "refresh")),
    ("alg-none", unsigned("none"), ("access", "refresh")),
    ("alg-HS512-real-secret", headed({"alg": "HS512", "typ": "JWT"}, hashlib.sha512), ("access", "refresh")),
    ("alg-RS256-header-hmac-signed", headed({"alg": "RS256", "typ": "JWT"}), ("access",)),
    ("kid-path-traversal-empty-key", headed({"alg": "HS256", "kid": "../../dev/null"}, key=b""), ("access",)),
    ("tampered-sub-to-admin", tampered(sub=lambda w, c: str(w.admin.id)), ("access", "refresh")),
    (
        "signed-with-another-secret",
        headed({"alg": "HS256", "typ": "JWT"}, key=OTHER_SECRET.encode()),
        ("access", "refresh"),
    ),
    (
        "expired-a-minute-ago",
        reclaimed(iat=lifetime_ago, nbf=lifetime_ago, exp=minute_ago),
        ("access", "refresh"),
    ),
    ("wrong-aud", reclaimed(aud="another-service"), ("access", "refresh")),
    ("sub-of-nonexistent-user", reclaimed(sub="999999"), ("access", "refresh")),
    ("type-unknown", reclaimed(type="admin"), ("access",)),
    ("over-long-but-validly-signed", reclaimed(pad="x" * 5000), ("access",)),
    ("empty", edited(lambda t: ""), ("access",)),
    ("revoked-by-logout", after(sign_out), ("access", "refresh")),
    ("spent-by-rotation", after(rotate), ("refresh",)),
    ("child-of-replayed-refresh", child_of_replayed_refresh, ("access", "refresh")),
    ("user-deleted", after(delete_account), ("access", "refresh")),
    ("user-deactivated", after(deactivate), ("access", "refresh")),
    ("password-changed-since", after(change_password), ("access", "refresh")),
]
INTROSPECTION_CASES = [
    pytest.param(forge, kind, attack.startswith("control"), id=f"{attack}@introspect-{kind}")
    for attack, forge, kinds in INTROSPECTED_ATTACKS
    for kind in kinds
]


@pytest.mark.parametrize(("forge", "kind", "live"), INTROSPECTION_CASES)
def test_introspected_forged_or_dead_token(world, service_client, forge, kind, live):
    """200 either way, and never why: ``{"active": false}`` alone for anything not live."""
    headers = basic_auth(service_client.client_id, service_client.client_secret)
    response = world.client.post(INTROSPECT, data={"token": forge(world, kind)}, headers=headers)
    assert_safe(response, {PASSWORD, service_client.client_secret})
    assert response.status_code == 200
    body = response.get_json()
    if live:
        assert body["active"] is True and body["token_type"] == kind and body["sub"] == str(world.victim.id)
    else:
        assert body == {"active": False}


def basic_auth(client_id: str, client_secret: str) -> dict[str, str]:
    return {"Authorization": basic(f"{client_id}:{client_secret}")}


CLIENT_HEADERS: dict[str, Callable[[Any], dict[str, str]]] = {
    "control-right-credentials": lambda c: basic_auth(c.client_id, c.client_secret),
    "no-authorization-header": lambda c: {},
    "wrong-secret": lambda c: basic_auth(c.client_id, c.client_secret[::-1]),
    "unknown-client-id": lambda c: basic_auth("x" * 22, c.client_secret),
    "client-id-sqli": lambda c: basic_auth("' OR '1'='1", c.client_secret),
    "client-id-with-nul": lambda c: basic_auth(c.client_id + "\x00", c.client_secret),
    "secret-with-nul-suffix": lambda c: basic_auth(c.client_id, c.client_secret + "\x00"),
    "secret-prefix-only": lambda c: basic_auth(c.client_id, c.client_secret[:10]),
    "secret-as-its-stored-hash": lambda c: basic_auth(c.client_id, "sha256$" + "0" * 64),
    "user-password-as-basic": lambda c: basic_auth("victim", PASSWORD),
    "access-token-as-bearer": lambda c: {"Authorization": "Bearer " + c.client_secret},
    "bad-base64": lambda c: {"Authorization": "Basic %%%"},
    "no-colon": lambda c: {"Authorization": "Basic " + base64.b64encode(c.client_id.encode()).decode()},
    "not-utf8": lambda c: {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xfd").decode()},
    "100k-chars": lambda c: {"Authorization": "Basic " + "A" * 100_000},
}


@pytest.mark.parametrize("attack", list(CLIENT_HEADERS))
def test_introspection_client_credentials(world, service_client, attack):
    response = world.client.post(
        INTROSPECT, data={"token": world.token("access")}, headers=CLIENT_HEADERS[attack](service_client)
    )
    assert_safe(response, {PASSWORD, service_client.client_secret})
    check_answer(response, OK if attack.startswith("control") else err(401, "invalid_client"))


def test_the_catalogue_is_big_enough():
    tables = (
        BODY_CASES,
        LOOKALIKES,
        TOKEN_CASES,
        HEADER_CASES,
        ELSEWHERE_CASES,
        PATH_CASES,
        INTROSPECTION_CASES,
    )
    assert sum(map(len, tables)) >= 60
