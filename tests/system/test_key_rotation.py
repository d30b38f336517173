"""Key rotation across processes (issue 14): two gunicorn servers on one database, ES256, each
reloading its keys every 2 s (FLASK_JWT_KEYS_RELOAD_INTERVAL; 60 s by default). ``flask keys rotate``
from a third process reaches both; tokens of either verify on both, before and after; once
``flask keys prune`` drops the retired key, its tokens are refused everywhere. And PyJWT's own
``PyJWKClient``, given nothing but the live JWKS URL, verifies the tokens with ``iss`` and ``aud``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from authsvc.models import SigningKey
from tests.system.conftest import call, database_for_servers, flask_cli, register, running_servers, sign_in

ISSUER, AUDIENCE = "https://auth.example.test", "orders-service"
ENV = {
    "FLASK_JWT_ALGORITHM": "ES256",
    "FLASK_JWT_KEYS_RELOAD_INTERVAL": "2",
    "FLASK_JWT_ISSUER": ISSUER,
    "FLASK_JWT_AUDIENCE": AUDIENCE,
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], str]]:
    tmp_path = tmp_path_factory.mktemp("keys")
    database = database_for_servers(tmp_path)
    with running_servers(tmp_path, database, count=2, threads=4, **ENV) as bases:
        yield bases, database


def kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def works(base: str, token: str) -> bool:
    return call(base, "GET", "/api/auth/whoami", token=token).status == 200


def published(base: str) -> set[str]:
    return {key["kid"] for key in call(base, "GET", "/.well-known/jwks.json").body["keys"]}


def signed_by(base: str, username: str, wanted: str) -> str:
    """An access token from ``base`` once it signs with ``wanted`` (within a few reload intervals)."""
    deadline = time.monotonic() + 15
    while True:
        token = sign_in(base, username)["access_token"]
        if kid(token) == wanted or time.monotonic() > deadline:
            return token
        time.sleep(1)


def keys_cli(database: str, *args: str) -> str:
    result = flask_cli("keys", *args, database_url=database, **ENV)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_servers_made_one_current_key_between_them(shared):
    """Both servers started together on an empty key table: the lock left exactly one current key."""
    _, database = shared
    listing = keys_cli(database, "list")
    assert listing.count("current (signs)") == 1, listing


def test_a_rotation_reaches_both_servers_and_prune_ends_the_retired_key(shared):
    (a, b), database = shared
    register(a, "rotator")
    before = [sign_in(a, "rotator")["access_token"], sign_in(b, "rotator")["access_token"]]
    first = kid(before[0])
    assert kid(before[1]) == first  # one key signs for both processes
    assert published(a) == published(b) and len(published(a)) == 2  # current and next

    out = keys_cli(database, "rotate")
    second = next(k for k in published(a) | published(b) if k != first and f"{k} signs now" in out)

    after = [signed_by(a, "rotator", second), signed_by(b, "rotator", second)]
    assert [kid(token) for token in after] == [second, second]
    for base in (a, b):
        assert published(base) >= {first, second} and len(published(base)) == 3
        for token in before + after:  # minted before or after, by either: every token verifies on both
            assert works(base, token), (base, kid(token))

    # Age the retired key past the prune horizon, as if its tokens had all expired, then prune it.
    engine = create_engine(database)
    with Session(engine) as session:
        row = session.get(SigningKey, first)
        assert row is not None and row.retired_at is not None and row.state == "retired"
        row.retired_at -= timedelta(days=15)
        session.add(row)
        session.commit()
    engine.dispose()
    assert f"Pruned 1 retired key: {first}." in keys_cli(database, "prune")

    time.sleep(2.5)  # one reload interval: each server reloads at its next request
    for base in (a, b):
        assert first not in published(base)
        for token in before:  # unexpired, genuinely signed, but by a key no longer published
            assert not works(base, token)
        for token in after:
            assert works(base, token)


def test_pyjwkclient_verifies_tokens_from_the_live_jwks_url(shared):
    (a, b), _ = shared
    register(b, "jwks-reader")
    token = sign_in(b, "jwks-reader")["access_token"]
    client = jwt.PyJWKClient(f"{a}/.well-known/jwks.json", cache_keys=False)
    signing_key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE)
    assert claims["type"] == "access" and claims["sub"].isdigit()
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, signing_key.key, algorithms=["ES256"], issuer=ISSUER, audience="another-service")
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(token, signing_key.key, algorithms=["ES256"], issuer="authsvc", audience=AUDIENCE)
    reply = call(a, "GET", "/.well-known/jwks.json")
    assert reply.headers["Cache-Control"] == "public, max-age=600"
