"""Malformed input across the body-taking endpoints, unknown routes and wrong methods.

Every case: a 4xx equal to the expected status, a JSON body in docs/api.md's error shape (or the exact
section 1 body on ``/token/`` and ``/token/refresh/``), and the password sent never echoed back.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import BAD_LOGIN, BAD_REFRESH

SECRET = "Zq9-never-echo-this"  # the password every case sends; it must not come back
MIB = 1024 * 1024
COMPAT_401 = {
    "/token/": BAD_LOGIN,
    "/token/refresh/": BAD_REFRESH,
}

TOKEN, REFRESH, REGISTER, LOGIN = "/token/", "/token/refresh/", "/api/auth/register", "/api/auth/login"
BODY_PATHS = (TOKEN, REFRESH, REGISTER, LOGIN)


def creds(**fields):
    return {"username": "alice", "password": SECRET, **fields}


def new_user(**fields):
    return {"username": "newbie", "email": "newbie@example.com", "password": SECRET, **fields}


def good_body(path):
    return {REFRESH: {"refresh": "x.y.z", "password": SECRET}, REGISTER: new_user()}.get(path, creds())


def short(path):
    return path.strip("/").replace("/", "-").replace("api-", "") or "root"


def case(name, path, status, code=None, *, method="post", loc=None, **request):
    return pytest.param(method, path, request, status, code, loc, id=name)


def bad_json(name, path, text):
    """A body sent as JSON that does not parse."""
    return case(name, path, 400, "invalid_json", data=text, content_type="application/json")


def not_json(name, path, data, content_type=None):
    return case(name, path, 415, "unsupported_media_type", data=data, content_type=content_type)


def invalid(name, path, field, body):
    """A parsed JSON object that fails validation on ``field``."""
    return case(name, path, 400, "validation_error", loc=["body", field], json=body)


def not_object(name, path, text):
    """Valid JSON, but not an object: there is no field to name."""
    return case(name, path, 400, "validation_error", loc=["body"], data=text, content_type="application/json")


NOT_OBJECTS = [("array", f'["{SECRET}"]'), ("string", f'"{SECRET}"'), ("number", "42"), ("null", "null")]
BAD_USERNAMES = [
    ("space", "has space"),
    ("tab", "tab\tname"),
    ("newline", "new\nline"),
    ("nul", "nul\x00name"),
    ("bell", "bell\x07name"),
    ("zero-width-space", "zero\u200bwidth"),
    ("zero-width-joiner", "zero\u200djoiner"),
    ("rtl-override", "rtl\u202eoverride"),
    ("151-chars", "x" * 151),
    ("punctuation", "bad!name"),
    ("html", "<script>"),
    ("slash", "a/b"),
]
BAD_EMAILS = [
    ("no-at", "not-an-email"),
    ("no-domain", "newbie@"),
    ("no-local", "@example.com"),
    ("space", "new bie@example.com"),
    ("double-at", "new@@example.com"),
    ("nul", "new\x00bie@example.com"),
    ("too-long", "x" * 320 + "@example.com"),
]
UNKNOWN_ROUTES = [
    ("get", "/nope"),
    ("get", "/api/nope"),
    ("post", "/api/auth/unknown"),
    ("get", "/api/auth/"),
    ("get", "/api/users/"),
    ("get", "/api/users/abc"),
    ("get", "/api/users/1.5"),
    ("get", "/api/users/-1"),
    ("post", "/token/refresh/extra/"),
    ("get", "/list/extra"),
]
WRONG_METHODS = [
    ("get", REGISTER),
    ("get", LOGIN),
    ("put", LOGIN),
    ("get", TOKEN),
    ("get", REFRESH),
    ("delete", TOKEN),
    ("post", "/api/auth/whoami"),
    ("delete", "/api/auth/whoami"),
    ("post", "/list/"),
    ("post", "/health"),
    ("post", "/"),
    ("post", "/api/users/all"),
    ("put", "/api/users/1"),
]
# Sign-in with an odd but well-typed value: a wrong credential (401), or 400 if its shape is refused.
EITHER = (401, 400)
SIGNED_IN_CODES = ("invalid_credentials", "validation_error")
LONG_PASSWORD = SECRET + "x" * (1025 - len(SECRET))

CASES = [
    # --- malformed JSON: 400 invalid_json ---
    *[bad_json(f"{short(p)}-truncated-json", p, f'{{"password": "{SECRET}"') for p in BODY_PATHS],
    *[bad_json(f"{short(p)}-single-quotes", p, f"{{'password': '{SECRET}'}}") for p in BODY_PATHS],
    bad_json("login-trailing-comma", LOGIN, f'{{"password": "{SECRET}",}}'),
    bad_json("login-empty-body", LOGIN, ""),
    bad_json("token-invalid-utf8", TOKEN, b'{"username": "\xff\xfe"}'),
    bad_json("register-plain-words", REGISTER, f"password={SECRET}"),
    # --- not JSON at all: 415 unsupported_media_type ---
    *[not_json(f"{short(p)}-form", p, {**good_body(p), "password": SECRET}) for p in BODY_PATHS],
    *[not_json(f"{short(p)}-text-plain", p, json.dumps(good_body(p)), "text/plain") for p in BODY_PATHS],
    *[not_json(f"{short(p)}-no-content-type", p, json.dumps(good_body(p)).encode()) for p in BODY_PATHS],
    not_json("login-multipart", LOGIN, creds(), "multipart/form-data"),
    not_json("register-xml", REGISTER, f"<password>{SECRET}</password>", "application/xml"),
    # --- JSON that is not an object: 400 validation_error ---
    *[not_object(f"{short(p)}-{kind}", p, text) for p in BODY_PATHS for kind, text in NOT_OBJECTS],
    not_object("login-true", LOGIN, "true"),
    # --- missing fields ---
    invalid("login-empty-object", LOGIN, "username", {}),
    invalid("login-no-password", LOGIN, "password", {"username": "alice"}),
    invalid("login-no-username", LOGIN, "username", {"password": SECRET}),
    invalid("token-no-password", TOKEN, "password", {"username": "alice"}),
    invalid("token-no-username", TOKEN, "username", {"password": SECRET}),
    invalid("refresh-empty-object", REFRESH, "refresh", {}),
    invalid("refresh-wrong-key", REFRESH, "refresh", {"refresh_token": "x.y.z", "password": SECRET}),
    invalid("register-no-email", REGISTER, "email", {"username": "newbie", "password": SECRET}),
    invalid("register-no-username", REGISTER, "username", {"email": "n@example.com", "password": SECRET}),
    invalid("register-no-password", REGISTER, "password", {"username": "newbie", "email": "n@example.com"}),
    # --- wrong types: strings are never coerced ---
    invalid("login-username-number", LOGIN, "username", creds(username=123)),
    invalid("login-password-number", LOGIN, "password", {"username": "alice", "password": 12345678}),
    invalid("login-username-list", LOGIN, "username", creds(username=["alice"])),
    invalid("login-password-object", LOGIN, "password", {"username": "alice", "password": {"v": SECRET}}),
    invalid("login-username-bool", LOGIN, "username", creds(username=True)),
    invalid("login-password-null", LOGIN, "password", {"username": "alice", "password": None}),
    invalid("token-username-null", TOKEN, "username", creds(username=None)),
    invalid("token-password-list", TOKEN, "password", {"username": "alice", "password": [SECRET]}),
    invalid("token-username-float", TOKEN, "username", creds(username=1.5)),
    invalid("refresh-number", REFRESH, "refresh", {"refresh": 123, "password": SECRET}),
    invalid("refresh-null", REFRESH, "refresh", {"refresh": None}),
    invalid("refresh-list", REFRESH, "refresh", {"refresh": ["x.y.z"]}),
    invalid("refresh-object", REFRESH, "refresh", {"refresh": {"token": "x"}}),
    invalid("register-email-number", REGISTER, "email", new_user(email=42)),
    invalid("register-username-bool", REGISTER, "username", new_user(username=False)),
    invalid("register-password-number", REGISTER, "password", new_user(password=123456789)),
    invalid("register-password-null", REGISTER, "password", new_user(password=None)),
    invalid("register-username-object", REGISTER, "username", new_user(username={"a": 1})),
    # --- empty strings ---
    invalid("register-username-empty", REGISTER, "username", new_user(username="")),
    invalid("register-username-blank", REGISTER, "username", new_user(username="   ")),
    invalid("register-email-empty", REGISTER, "email", new_user(email="")),
    invalid("register-password-empty", REGISTER, "password", new_user(password="")),
    case("login-both-empty", LOGIN, EITHER, SIGNED_IN_CODES, json={"username": "", "password": ""}),
    case("token-both-empty", TOKEN, EITHER, "validation_error", json={"username": "", "password": ""}),
    case("refresh-empty", REFRESH, 401, json={"refresh": "", "password": SECRET}),
    # --- what the registration rules refuse ---
    *[
        invalid(f"register-username-{k}", REGISTER, "username", new_user(username=u))
        for k, u in BAD_USERNAMES
    ],
    *[invalid(f"register-email-{k}", REGISTER, "email", new_user(email=e)) for k, e in BAD_EMAILS],
    invalid("register-password-7-chars", REGISTER, "password", new_user(password="Zq9-abc")),
    invalid("register-password-nul", REGISTER, "password", new_user(password=SECRET + "\x00")),
    invalid("register-password-1025-chars", REGISTER, "password", new_user(password=LONG_PASSWORD)),
    invalid("register-password-common", REGISTER, "password", new_user(password="password123")),
    invalid(
        "register-password-is-username",
        REGISTER,
        "password",
        new_user(username=SECRET, password=SECRET.lower()),
    ),
    # --- over 1 MiB: 413 ---
    *[
        case(f"{short(p)}-over-1mib", p, 413, "payload_too_large", json={**good_body(p), "pad": "p" * MIB})
        for p in BODY_PATHS
    ],
    # --- SQL-injection-looking strings: refused like any other wrong input, never 5xx ---
    case("login-sqli-username", LOGIN, EITHER, SIGNED_IN_CODES, json=creds(username="' OR '1'='1' --")),
    case(
        "login-sqli-both", LOGIN, EITHER, SIGNED_IN_CODES, json={"username": "x'--", "password": "'OR 1=1--"}
    ),
    case("token-sqli-username", TOKEN, EITHER, "validation_error", json=creds(username="';DROP TABLE user")),
    case("refresh-sqli", REFRESH, 401, json={"refresh": "' OR 1=1 --", "password": SECRET}),
    invalid("register-sqli-username", REGISTER, "username", new_user(username="bob'); DROP TABLE user;--")),
    invalid("register-sqli-email", REGISTER, "email", new_user(email="x@example.com'; DROP TABLE user;--")),
    # PostgreSQL refuses NUL in text: the lookup must not reach it
    case("login-username-nul", LOGIN, 401, "invalid_credentials", json=creds(username="alice\x00")),
    case("token-username-nul", TOKEN, 401, json=creds(username="alice\x00")),
    # --- unknown routes: 404 not_found ---
    *[case(f"404-{m}-{path}", path, 404, "not_found", method=m, json=creds()) for m, path in UNKNOWN_ROUTES],
    # --- wrong methods: 405 method_not_allowed with Allow ---
    *[
        case(f"405-{m}-{path}", path, 405, "method_not_allowed", method=m, json=creds())
        for m, path in WRONG_METHODS
    ],
]


def passwords_sent(request_kwargs):
    """SECRET always (it is in every raw body too), plus any other non-trivial password in the body."""
    body = request_kwargs.get("json", request_kwargs.get("data"))
    found = {SECRET}
    if isinstance(body, dict) and isinstance(body.get("password"), str) and len(body["password"]) >= 6:
        found.add(body["password"])
    return found


@pytest.mark.parametrize(("method", "path", "request_kwargs", "status", "code", "loc"), CASES)
def test_bad_input(client, make_user, method, path, request_kwargs, status, code, loc):
    make_user("alice")  # a real account, so sign-in cases exercise the password check
    response = getattr(client, method)(path, **request_kwargs)

    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.data
    assert 400 <= response.status_code < 500
    assert response.mimetype == "application/json"
    for password in passwords_sent(request_kwargs):
        assert password.encode() not in response.data
        assert password.lower().encode() not in response.data.lower()

    if response.status_code == 401 and path in COMPAT_401:
        assert response.data == COMPAT_401[path]  # section 1: byte for byte
        return
    body = response.get_json()
    assert isinstance(body["detail"], str) and body["detail"]
    codes = code if isinstance(code, tuple) else (code,)
    assert body["code"] in codes
    if body["code"] == "validation_error":
        assert set(body) == {"detail", "code", "errors"}
        assert body["errors"], body
        for item in body["errors"]:
            assert isinstance(item["loc"], list) and item["loc"][0] == "body"
            assert isinstance(item["msg"], str)
            # a sentence for people, not pydantic's "Value error, ..." wrapper
            assert item["msg"] and not item["msg"].startswith(("Value error", "Assertion failed")), item
        if loc is not None:
            assert loc in [item["loc"] for item in body["errors"]]
    else:
        assert set(body) == {"detail", "code"}
    if response.status_code == 405:
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert allowed and method.upper() not in allowed
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_table_is_big_enough():
    assert len(CASES) >= 50
