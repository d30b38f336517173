"""docs/api.md, ``/api/auth``: register, login, whoami, refresh and logout."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import jwt
import pytest
from sqlmodel import Session

from authsvc.db import get_engine
from authsvc.models import User, utcnow
from authsvc.security import TokenCodec
from tests.conftest import assert_error, build_app, login, make_settings, unique_name
from tests.helpers import BAD_REFRESH, BAD_TOKEN, PASSWORD, RECORD_KEYS, bearer

LOGIN_KEYS = {"access_token", "refresh_token", "token_type", "expires_in"}
LOGOUT_BODY = {"message": "Signed out", "scope": "local", "revoked_sessions": 1}
CLAIMS = {"sub", "jti", "iat", "nbf", "exp", "type", "sid", "iss", "aud"}


def register(client, username=None, *, email=None, password=PASSWORD, **extra):
    username = username if username is not None else unique_name("reg")
    body = {"username": username, "email": email or f"{uuid.uuid4().hex[:12]}@example.com"}
    body.update(password=password, **extra)
    return client.post("/api/auth/register", json=body)


def error_locs(response):
    return [item["loc"] for item in response.get_json()["errors"]]


def assert_token_pair(response, access_lifetime=900):
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert set(body) == LOGIN_KEYS
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == access_lifetime
    assert isinstance(body["access_token"], str) and isinstance(body["refresh_token"], str)
    assert body["access_token"] != body["refresh_token"]
    assert response.headers["Cache-Control"] == "no-store"
    return body


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def whoami(client, token):
    return client.get("/api/auth/whoami", headers=bearer(token))


def refresh(client, token, method="post"):
    return getattr(client, method)("/api/auth/refresh", headers=bearer(token))


def update_user(app, user_id, **changes):
    with Session(get_engine(app)) as session:
        user = session.get(User, user_id)
        for name, value in changes.items():
            setattr(user, name, value)
        session.add(user)
        session.commit()


def delete_user(app, user_id):
    with Session(get_engine(app)) as session:
        session.delete(session.get(User, user_id))
        session.commit()


def codec_for(settings, **overrides):
    values = {
        "secret": settings.jwt_secret_key,
        "issuer": settings.jwt_issuer,
        "audience": settings.jwt_audience,
        "access_lifetime": settings.access_lifetime,
        "refresh_lifetime": settings.refresh_lifetime,
    }
    values.update(overrides)
    return TokenCodec(**values)


# --- register ---------------------------------------------------------------------------------------


def test_register_returns_the_user_record(client):
    response = register(
        client, "NewUser_1.a+b-c@x", email="  New.User@Example.COM ", password="Sturdy-Pass-42"
    )
    assert response.status_code == 201, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == RECORD_KEYS
    assert isinstance(body["id"], int)
    assert body["username"] == "NewUser_1.a+b-c@x"
    assert body["email"] == "new.user@example.com"
    assert body["role"] == "user"
    assert body["is_active"] is True
    created = datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() == timedelta(0)
    assert abs(created - utcnow()) < timedelta(minutes=5)
    assert b"Sturdy-Pass-42" not in response.data
    assert b"password" not in response.data.lower()
    assert b"$2" not in response.data  # no bcrypt hash


def test_registered_user_can_sign_in(client):
    user = register(client, password="Sturdy-Pass-42").get_json()
    tokens = login(client, user["username"], "Sturdy-Pass-42")
    assert whoami(client, tokens["access_token"]).get_json() == user


def test_register_stores_the_nfkc_normalised_trimmed_username(client):
    response = register(client, "  ｂｏｂ\uff3f１  ")
    assert response.status_code == 201, response.data
    assert response.get_json()["username"] == "bob_1"


def test_register_ignores_role_is_active_and_id(client, make_user):
    make_user()  # id 1 exists; the body's id must not be taken either
    response = register(client, role="admin", is_active=False, id=1, password="Sturdy-Pass-42")
    assert response.status_code == 201, response.data
    body = response.get_json()
    assert body["role"] == "user"
    assert body["is_active"] is True
    assert body["id"] != 1
    login(client, body["username"], "Sturdy-Pass-42")  # active: can sign in


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("alice", "alice"),
        ("alice", "Alice"),
        ("alice", "ALICE"),
        ("Alice", "alice"),
        ("alice", "ａｌｉｃｅ"),  # fullwidth look-alike, NFKC folds it to "alice"
        ("alice", "ＡＬＩＣＥ"),
        ("ａｌｉｃｅ", "Alice"),
        ("alice", "  alice  "),
        ("straße", "STRASSE"),  # casefold: ß == ss
    ],
)
def test_register_refuses_a_taken_username(client, first, second):
    assert register(client, first).status_code == 201
    response = register(client, second)
    assert_error(response, 409, "username_taken")


@pytest.mark.parametrize("second", ["taken@example.com", "TAKEN@example.com", "Taken@Example.Com"])
def test_register_refuses_a_taken_email(client, second):
    assert register(client, email="taken@example.com").status_code == 201
    response = register(client, email=second)
    assert_error(response, 409, "email_taken")


def test_register_refuses_an_email_taken_by_a_factory_user(client, make_user):
    user = make_user()
    assert_error(register(client, email=user.email.upper()), 409, "email_taken")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "newbie", "password": PASSWORD}, "email"),
        ({"username": "newbie", "email": "a@example.com"}, "password"),
        ({"username": "", "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "has space", "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "x" * 151, "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": 42, "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "newbie", "email": "not-an-email", "password": PASSWORD}, "email"),
        ({"username": "newbie", "email": "a@example.com", "password": "short7!"}, "password"),
        ({"username": "newbie", "email": "a@example.com", "password": "x" * 1025}, "password"),
        ({"username": "newbie", "email": "a@example.com", "password": "nul\x00byte-pass"}, "password"),
        ({"username": "newbie", "email": "a@example.com", "password": 12345678}, "password"),
    ],
)
def test_register_validation_errors_name_the_field(client, body, field):
    response = client.post("/api/auth/register", json=body)
    assert_error(response, 400, "validation_error")
    assert ["body", field] in error_locs(response)


def test_register_reports_every_missing_field(client):
    response = client.post("/api/auth/register", json={})
    assert_error(response, 400, "validation_error")
    locs = error_locs(response)
    for field in ("username", "email", "password"):
        assert ["body", field] in locs


@pytest.mark.parametrize(
    ("username", "password"),
    [
        (None, "password123"),
        (None, "PASSWORD123"),  # the deny-list is case-insensitive
        (None, "12345678"),
        ("samepass01", "samepass01"),
        ("SamePass01", "samepass01"),  # same as the username, ignoring case
    ],
)
def test_register_refuses_guessable_passwords(client, username, password):
    response = register(client, username, password=password)
    body = assert_error(response, 400, "validation_error")
    assert ["body", "password"] in error_locs(response)
    assert password.encode() not in response.data
    assert "password" in body["detail"].lower() or body["errors"][0]["msg"]


@pytest.mark.parametrize(
    "password",
    [
        "kq8#Lm2z",  # exactly 8
        "kq8#Lm2z-" + "q" * 491 + "Z" * 524,  # exactly 1024, and not a repeat from its first character
        "пароль-секрет-ключ",  # any Unicode
        "emoji-🔐-passphrase",
    ],
)
def test_register_accepts_passwords_within_the_rules(client, password):
    response = register(client, password=password)
    assert response.status_code == 201, response.data
    assert password.encode() not in response.data
    login(client, response.get_json()["username"], password)


def test_register_accepts_a_150_character_username(client):
    name = "u" * 146 + uuid.uuid4().hex[:4]
    response = register(client, name)
    assert response.status_code == 201, response.data
    assert response.get_json()["username"] == name


# --- login ------------------------------------------------------------------------------------------


def test_login_returns_a_token_pair(client, make_user):
    user = make_user()
    response = client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD})
    body = assert_token_pair(response)
    assert PASSWORD.encode() not in response.data
    access, refresh_claims = claims_of(body["access_token"]), claims_of(body["refresh_token"])
    assert CLAIMS <= set(access) and CLAIMS <= set(refresh_claims)
    assert (access["type"], refresh_claims["type"]) == ("access", "refresh")
    assert access["sub"] == refresh_claims["sub"] == str(user.id)
    assert access["sid"] == refresh_claims["sid"]
    assert access["exp"] - access["iat"] == 900
    assert (access["iss"], access["aud"]) == ("authsvc", "authsvc")
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"


def test_login_expires_in_follows_the_setting(tmp_path):
    app = build_app(make_settings(tmp_path / "short", jwt_access_token_expires=120))
    try:
        client = app.test_client()
        client.post(
            "/api/auth/register",
            json={"username": "shorty", "email": "shorty@example.com", "password": PASSWORD},
        )
        response = client.post("/api/auth/login", json={"username": "shorty", "password": PASSWORD})
        body = assert_token_pair(response, access_lifetime=120)
        claims = claims_of(body["access_token"])
        assert claims["exp"] - claims["iat"] == 120
    finally:
        get_engine(app).dispose()


def test_each_login_starts_a_new_session(client, make_user):
    user = make_user()
    first, second = login(client, user.username), login(client, user.username)
    assert claims_of(first["access_token"])["sid"] != claims_of(second["access_token"])["sid"]


@pytest.mark.parametrize("case", ["wrong_password", "unknown_user", "deactivated"])
def test_login_failures_are_401_invalid_credentials(client, make_user, case):
    user = make_user(is_active=case != "deactivated")
    username = "nobody-here" if case == "unknown_user" else user.username
    password = "wrong-password-1" if case == "wrong_password" else PASSWORD
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    body = assert_error(response, 401, "invalid_credentials")
    assert password.encode() not in response.data
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["detail"]


def test_login_failures_do_not_tell_which_part_was_wrong(client, make_user):
    user = make_user()
    make_user("sleeper", is_active=False)
    bodies = {
        client.post("/api/auth/login", json={"username": name, "password": password}).data
        for name, password in [
            (user.username, "wrong-password-1"),
            ("nobody-here", PASSWORD),
            ("sleeper", PASSWORD),
        ]
    }
    assert len(bodies) == 1


@pytest.mark.parametrize(
    "prefix",
    [
        "x" * 72,  # 72 ASCII bytes: bcrypt alone would ignore what follows
        "ü" * 36,  # 72 UTF-8 bytes in 36 characters
        "€" * 30,  # 90 UTF-8 bytes
        "k" * 1000,
    ],
)
def test_login_every_password_character_counts(client, make_user, prefix):
    user = make_user(password=prefix + "-A1")
    for wrong in (prefix + "-A2", prefix + "-A", prefix):
        response = client.post("/api/auth/login", json={"username": user.username, "password": wrong})
        assert_error(response, 401, "invalid_credentials")
    login(client, user.username, prefix + "-A1")


@pytest.mark.parametrize(
    "password",
    [
        PASSWORD + "\x00",
        "\x00" + PASSWORD,
        PASSWORD[:8] + "\x00" + PASSWORD[8:],
        PASSWORD + "x" * 4979,  # 5000 characters
        "é" * 5000,
        "x" * 100_000,
        "",
    ],
)
def test_login_odd_passwords_are_just_wrong(client, make_user, password):
    user = make_user()
    response = client.post("/api/auth/login", json={"username": user.username, "password": password})
    assert_error(response, 401, "invalid_credentials")


@pytest.mark.parametrize("username", ["x" * 5000, "nul\x00name", "", "a b", "ｕｓｅｒ"])
def test_login_odd_usernames_are_just_unknown(client, username):
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert_error(response, 401, "invalid_credentials")


# --- whoami -----------------------------------------------------------------------------------------


def test_whoami_returns_the_user_record(client, user_tokens):
    user, tokens = user_tokens
    response = whoami(client, tokens["access_token"])
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == RECORD_KEYS
    assert (body["id"], body["username"], body["email"]) == (user.id, user.username, user.email)
    assert (body["role"], body["is_active"]) == ("user", True)


def test_whoami_scheme_is_case_insensitive(client, user_tokens):
    _, tokens = user_tokens
    response = client.get("/api/auth/whoami", headers={"Authorization": f"bEaReR {tokens['access_token']}"})
    assert response.status_code == 200


def test_whoami_without_a_token(client):
    response = client.get("/api/auth/whoami")
    assert_error(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Bearer not-a-jwt", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer x y"],
)
def test_whoami_with_a_bad_token(client, header):
    response = client.get("/api/auth/whoami", headers={"Authorization": header})
    assert_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_whoami_refuses_a_refresh_token(client, user_tokens):
    _, tokens = user_tokens
    assert_error(whoami(client, tokens["refresh_token"]), 401, "invalid_token")


# --- tokens minted elsewhere ------------------------------------------------------------------------


def test_a_self_minted_token_is_accepted(client, settings, make_user):
    """The control for the forgeries below: the same recipe with the app's own settings works."""
    user = make_user()
    token = codec_for(settings).encode(
        subject=str(user.id), token_type="access", session_id=uuid.uuid4().hex, now=utcnow()
    )
    assert whoami(client, token.token).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "age"),
    [
        ({"secret": "another-secret-0123456789abcdef0123456789"}, timedelta(0)),
        ({}, timedelta(seconds=901)),  # expired a second ago
        ({}, timedelta(days=1)),
        ({}, -timedelta(minutes=5)),  # not valid yet (nbf in the future)
        ({"issuer": "someone-else"}, timedelta(0)),
        ({"audience": "someone-else"}, timedelta(0)),
    ],
    ids=["other-secret", "just-expired", "expired", "future", "other-issuer", "other-audience"],
)
def test_foreign_and_expired_access_tokens_are_refused(client, settings, make_user, overrides, age):
    user = make_user()
    codec = codec_for(settings, **overrides)
    sid = uuid.uuid4().hex
    token = codec.encode(subject=str(user.id), token_type="access", session_id=sid, now=utcnow() - age).token
    assert_error(whoami(client, token), 401, "invalid_token")
    assert client.get("/list/", headers=bearer(token)).data == BAD_TOKEN
    assert_error(client.get(f"/api/users/{user.id}", headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize(
    ("overrides", "age"),
    [
        ({"secret": "another-secret-0123456789abcdef0123456789"}, timedelta(0)),
        ({}, timedelta(days=15)),
        ({"refresh_lifetime": timedelta(seconds=60)}, timedelta(seconds=61)),
    ],
    ids=["other-secret", "expired", "just-expired"],
)
def test_foreign_and_expired_refresh_tokens_are_refused(client, settings, make_user, overrides, age):
    user = make_user()
    codec = codec_for(settings, **overrides)
    sid = uuid.uuid4().hex
    token = codec.encode(subject=str(user.id), token_type="refresh", session_id=sid, now=utcnow() - age).token
    assert_error(refresh(client, token), 401, "invalid_token")
    assert client.post("/token/refresh/", json={"refresh": token}).data == BAD_REFRESH


def test_a_token_for_a_user_that_never_existed_is_refused(client, settings, make_user):
    make_user()
    token = codec_for(settings).encode(
        subject="999999", token_type="access", session_id=uuid.uuid4().hex, now=utcnow()
    )
    assert_error(whoami(client, token.token), 401, "invalid_token")


# --- refresh ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "get"])
def test_refresh_rotates_the_pair(client, user_tokens, method):
    user, tokens = user_tokens
    response = refresh(client, tokens["refresh_token"], method)
    body = assert_token_pair(response)
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    old, new = claims_of(tokens["refresh_token"]), claims_of(body["refresh_token"])
    assert new["sid"] == old["sid"]  # the same session
    assert new["sub"] == str(user.id)
    assert whoami(client, body["access_token"]).get_json()["id"] == user.id
    assert_token_pair(refresh(client, body["refresh_token"], method))


@pytest.mark.parametrize("method", ["post", "get"])
def test_refresh_reuse_revokes_the_whole_session(client, user_tokens, method):
    _, tokens = user_tokens
    rotated = assert_token_pair(refresh(client, tokens["refresh_token"], method))
    reuse = refresh(client, tokens["refresh_token"], method)
    assert_error(reuse, 401, "invalid_token")
    # every token of the session is dead: the legitimate child pair and the original access token
    assert_error(whoami(client, rotated["access_token"]), 401, "invalid_token")
    assert_error(whoami(client, tokens["access_token"]), 401, "invalid_token")
    assert_error(refresh(client, rotated["refresh_token"], method), 401, "invalid_token")
    assert client.get("/list/", headers=bearer(rotated["access_token"])).data == BAD_TOKEN


def test_refresh_reuse_leaves_other_sessions_alone(client, make_user):
    user = make_user()
    victim, other = login(client, user.username), login(client, user.username)
    refresh(client, victim["refresh_token"])
    assert refresh(client, victim["refresh_token"]).status_code == 401
    assert whoami(client, other["access_token"]).status_code == 200
    assert_token_pair(refresh(client, other["refresh_token"]))


@pytest.mark.parametrize("method", ["post", "get"])
def test_refresh_refuses_an_access_token(client, user_tokens, method):
    _, tokens = user_tokens
    assert_error(refresh(client, tokens["access_token"], method), 401, "invalid_token")
    # and that refusal spent nothing: the real refresh token still works
    assert_token_pair(refresh(client, tokens["refresh_token"], method))


@pytest.mark.parametrize("method", ["post", "get"])
def test_refresh_without_a_token(client, method):
    response = getattr(client, method)("/api/auth/refresh")
    assert_error(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "cookie", ["__Secure-refresh_token", "refresh_token", "refresh_token_cookie", "access_token_cookie"]
)
@pytest.mark.parametrize("method", ["post", "get"])
def test_refresh_never_reads_a_cookie_without_csrf(client, user_tokens, cookie, method):
    """GET never reads a cookie; POST reads only cookie mode's refresh cookie, and only with the
    CSRF header (issue 6): without it the answer is 403 and nothing is spent. Over https that cookie
    is ``__Secure-refresh_token``; the bare name is plain-http localhost's only (issue 10)."""
    _, tokens = user_tokens
    client.set_cookie(cookie, tokens["refresh_token"], path="/api/auth")
    response = getattr(client, method)("/api/auth/refresh")
    if method == "post" and cookie == "__Secure-refresh_token":
        assert_error(response, 403, "forbidden")
    else:
        assert_error(response, 401, "missing_token")
    assert refresh(client, tokens["refresh_token"]).status_code == 200  # nothing was spent


def test_refresh_and_compat_refresh_share_spent_tokens(client, user_tokens):
    _, tokens = user_tokens
    assert client.post("/token/refresh/", json={"refresh": tokens["refresh_token"]}).status_code == 200
    assert_error(refresh(client, tokens["refresh_token"]), 401, "invalid_token")


# --- logout -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "get"])
def test_logout_revokes_this_session_only(client, make_user, method):
    user = make_user()
    mine, other = login(client, user.username), login(client, user.username)
    response = getattr(client, method)("/api/auth/logout", headers=bearer(mine["access_token"]))
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/json"
    assert response.get_json() == LOGOUT_BODY

    assert_error(whoami(client, mine["access_token"]), 401, "invalid_token")
    assert client.get("/list/", headers=bearer(mine["access_token"])).data == BAD_TOKEN
    assert_error(
        client.get(f"/api/users/{user.id}", headers=bearer(mine["access_token"])), 401, "invalid_token"
    )
    assert_error(refresh(client, mine["refresh_token"]), 401, "invalid_token")
    assert client.post("/token/refresh/", json={"refresh": mine["refresh_token"]}).data == BAD_REFRESH

    assert whoami(client, other["access_token"]).status_code == 200
    assert client.get("/list/", headers=bearer(other["access_token"])).status_code == 200
    assert_token_pair(refresh(client, other["refresh_token"]))


def test_logout_also_kills_tokens_rotated_before_it(client, user_tokens):
    _, tokens = user_tokens
    rotated = assert_token_pair(refresh(client, tokens["refresh_token"]))
    assert client.post("/api/auth/logout", headers=bearer(rotated["access_token"])).status_code == 200
    assert_error(whoami(client, tokens["access_token"]), 401, "invalid_token")
    assert_error(refresh(client, rotated["refresh_token"]), 401, "invalid_token")


def test_logout_twice_is_refused(client, user_tokens):
    _, tokens = user_tokens
    assert client.post("/api/auth/logout", headers=bearer(tokens["access_token"])).status_code == 200
    assert_error(
        client.post("/api/auth/logout", headers=bearer(tokens["access_token"])), 401, "invalid_token"
    )


@pytest.mark.parametrize("method", ["post", "get"])
def test_logout_without_a_token(client, method):
    response = getattr(client, method)("/api/auth/logout")
    assert_error(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_logout_refuses_a_refresh_token(client, user_tokens):
    _, tokens = user_tokens
    response = client.post("/api/auth/logout", headers=bearer(tokens["refresh_token"]))
    assert_error(response, 401, "invalid_token")
    assert whoami(client, tokens["access_token"]).status_code == 200


def test_logout_works_for_a_compat_session(client, make_user):
    user = make_user()
    pair = client.post("/token/", json={"username": user.username, "password": PASSWORD}).get_json()
    assert client.post("/api/auth/logout", headers=bearer(pair["access"])).get_json() == LOGOUT_BODY
    assert client.get("/list/", headers=bearer(pair["access"])).data == BAD_TOKEN
    assert client.post("/token/refresh/", json={"refresh": pair["refresh"]}).data == BAD_REFRESH


# --- users who disappear ----------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["deactivate", "delete"])
def test_tokens_die_with_their_user(app, client, make_user, change):
    user = make_user()
    bystander = make_user()
    tokens, other = login(client, user.username), login(client, bystander.username)
    assert whoami(client, tokens["access_token"]).status_code == 200
    if change == "deactivate":
        update_user(app, user.id, is_active=False)
    else:
        delete_user(app, user.id)
    assert_error(whoami(client, tokens["access_token"]), 401, "invalid_token")
    assert client.get("/list/", headers=bearer(tokens["access_token"])).data == BAD_TOKEN
    assert_error(refresh(client, tokens["refresh_token"]), 401, "invalid_token")
    assert client.post("/token/refresh/", json={"refresh": tokens["refresh_token"]}).data == BAD_REFRESH
    assert whoami(client, other["access_token"]).status_code == 200


def test_a_reactivated_user_signs_in_again(app, client, make_user):
    user = make_user()
    update_user(app, user.id, is_active=False)
    assert_error(
        client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD}),
        401,
        "invalid_credentials",
    )
    update_user(app, user.id, is_active=True)
    login(client, user.username)
