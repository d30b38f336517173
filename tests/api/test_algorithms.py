"""Every FLASK_JWT_ALGORITHM: sign in, whoami, refresh and logout work, section 1's bodies stay byte for
byte, every token names its key, and the JWKS publishes exactly the keys that verify (API.md section 5)."""

from __future__ import annotations

import json

import jwt
import pytest

from authsvc.keys import secret_kid
from tests.conftest import make_settings
from tests.helpers import BAD_LOGIN, BAD_REFRESH, BAD_TOKEN, MISSING_HEADER, PASSWORD, bearer

ALGORITHMS = ["HS256", "EdDSA", "ES256", "RS256"]


@pytest.fixture(params=ALGORITHMS)
def settings(tmp_path, request, fast_rsa):
    """conftest's settings under each algorithm: every test of this module runs four times. (Asking
    for ``fast_rsa`` here puts the RSA key pool in place before the app makes its keys.)"""
    return make_settings(tmp_path, jwt_algorithm=request.param)


def header(token: str) -> dict:
    return jwt.get_unverified_header(token)


def jwks(client) -> list[dict]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=600"
    return response.get_json()["keys"]


def test_sign_in_whoami_refresh_logout(settings, api, make_user):
    user = make_user()
    tokens = api.sign_in(user.username)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert header(token)["alg"] == settings.jwt_algorithm
        assert header(token)["typ"] == "JWT" and header(token)["kid"]
    assert api.whoami(tokens["access_token"]).get_json()["username"] == user.username

    rotated = api.refresh(tokens["refresh_token"])
    assert rotated.status_code == 200
    fresh = rotated.get_json()
    assert api.refresh(tokens["refresh_token"]).status_code == 401  # spent: theft, the session dies
    assert api.whoami(fresh["access_token"]).status_code == 401

    again = api.sign_in(user.username)
    logout = api.logout(again["access_token"])
    assert logout.data == b'{"message": "Signed out", "scope": "local", "revoked_sessions": 1}'
    assert api.whoami(again["access_token"]).status_code == 401


def test_section_1_bodies_are_unchanged(client, make_user):
    user = make_user()
    pair = client.post("/token/", json={"username": user.username, "password": PASSWORD})
    assert pair.status_code == 200 and list(json.loads(pair.data)) == ["refresh", "access"]
    body = pair.get_json()
    listed = client.get("/list/", headers=bearer(body["access"]))
    assert listed.status_code == 200 and [u["username"] for u in listed.get_json()] == [user.username]
    refreshed = client.post("/token/refresh/", json={"refresh": body["refresh"]})
    assert refreshed.status_code == 200 and list(json.loads(refreshed.data)) == ["access", "refresh"]

    assert (
        client.post("/token/", json={"username": user.username, "password": "wrong-pass"}).data == BAD_LOGIN
    )
    assert client.get("/list/").data == MISSING_HEADER
    assert client.get("/list/", headers=bearer(body["refresh"])).data == BAD_TOKEN
    assert client.post("/token/refresh/", json={"refresh": body["refresh"]}).data == BAD_REFRESH


def test_the_jwks_publishes_the_keys_that_verify(settings, client, api, make_user):
    token = api.sign_in(make_user().username)["access_token"]
    published = jwks(client)
    if settings.jwt_algorithm == "HS256":
        assert published == []  # a secret is never published
        assert header(token)["kid"] == secret_kid(settings.jwt_secret_key)
        return
    assert [key["kid"] for key in published].count(header(token)["kid"]) == 1
    assert len(published) == 2  # the current key and the next one
    for key in published:
        assert key["alg"] == settings.jwt_algorithm and key["use"] == "sig"
        members = {"OKP": {"crv", "x"}, "EC": {"crv", "x", "y"}, "RSA": {"n", "e"}}[key["kty"]]
        assert set(key) == {"kid", "kty", "alg", "use", *members}  # no private member ("d", "p", ...)
    signer = next(key for key in published if key["kid"] == header(token)["kid"])
    claims = jwt.decode(
        token,
        jwt.PyJWK(signer).key,
        algorithms=[settings.jwt_algorithm],
        audience="authsvc",
        issuer="authsvc",
    )
    assert claims["type"] == "access"


def test_a_token_without_a_kid_verifies_only_under_hs256(settings, api, make_user):
    """Tokens minted before kids existed keep working after the upgrade (HS256, the secret alone);
    under an asymmetric algorithm a token without a kid names no key."""
    user = make_user()
    claims = jwt.decode(api.sign_in(user.username)["access_token"], options={"verify_signature": False})
    legacy = jwt.encode(claims, settings.jwt_secret_key, algorithm="HS256", headers={"typ": "JWT"})
    expected = 200 if settings.jwt_algorithm == "HS256" else 401
    assert api.whoami(legacy).status_code == expected
