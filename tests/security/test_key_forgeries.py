"""Forged tokens under the asymmetric algorithms: each row is an attack on the key choice (API.md
section 5), presented to whoami and /list/, with control rows proving the harness mints tokens the
service accepts, so each refusal is the forgery's doing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from authsvc.db import get_engine, session_scope
from authsvc.extensions import get_codec
from authsvc.keyring import StoredKey
from authsvc.keys import KeySealer, generate, public_jwk, secret_kid
from authsvc.models import SigningKey
from authsvc.services import keys
from tests.conftest import login, make_settings
from tests.helpers import BAD_TOKEN, bearer

ASYMMETRIC = ["EdDSA", "ES256", "RS256"]


@pytest.fixture(params=ASYMMETRIC)
def settings(tmp_path, request, fast_rsa):
    return make_settings(tmp_path, jwt_algorithm=request.param)


@dataclass
class World:
    app: Flask
    client: FlaskClient
    algorithm: str
    token: str
    sealer: KeySealer

    @property
    def claims(self) -> dict[str, Any]:
        return jwt.decode(self.token, options={"verify_signature": False})

    def stored(self) -> list[StoredKey]:
        with self.app.app_context(), session_scope(get_engine(self.app)) as session:
            return keys.load_keys(session=session, sealer=self.sealer)

    def current(self) -> StoredKey:
        return next(k for k in self.stored() if k.state == "current" and k.algorithm == self.algorithm)


@pytest.fixture
def world(app, client, settings, make_user) -> World:
    user = make_user()
    token = login(client, user.username)["access_token"]
    return World(app, client, settings.jwt_algorithm, token, KeySealer(settings.secret_key))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(part: dict[str, Any]) -> str:
    return b64url(json.dumps(part, separators=(",", ":")).encode())


def signed(world: World, private_key: Any, **header: Any) -> str:
    """The genuine claims signed by ``private_key`` under the world's algorithm, with ``header``."""
    return jwt.encode(world.claims, private_key, algorithm=world.algorithm, headers={"typ": "JWT", **header})


def public_pem(world: World) -> bytes:
    return (
        world.current()
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def hs256_with_public_key(world: World) -> str:
    """The classic confusion: alg HS256, the HMAC keyed by the public key everyone can fetch."""
    head = segment({"alg": "HS256", "typ": "JWT", "kid": world.current().kid})
    signing_input = f"{head}.{segment(world.claims)}"
    mac = hmac.new(public_pem(world), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def hs256_with_the_jwk_as_secret(world: World) -> str:
    jwk = json.dumps(public_jwk(world.current().private_key, world.algorithm)).encode()
    head = segment({"alg": "HS256", "typ": "JWT", "kid": world.current().kid})
    signing_input = f"{head}.{segment(world.claims)}"
    return f"{signing_input}.{b64url(hmac.new(jwk, signing_input.encode(), hashlib.sha256).digest())}"


def alg_none(world: World) -> str:
    return f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': world.current().kid})}.{segment(world.claims)}."


def attacker(world: World) -> tuple[Any, str]:
    key = generate(world.algorithm)
    return key, public_jwk(key, world.algorithm)["kid"]


def never_published(world: World) -> str:
    key, kid = attacker(world)
    return signed(world, key, kid=kid)


def never_published_under_the_real_kid(world: World) -> str:
    key, _ = attacker(world)
    return signed(world, key, kid=world.current().kid)


def header_pointing_at(member: str) -> Callable[[World], str]:
    """An attacker's key, and a header member telling the verifier where to find it."""

    def forge(world: World) -> str:
        key, kid = attacker(world)
        where: Any = public_jwk(key, world.algorithm) if member == "jwk" else "https://evil.example/keys"
        return signed(world, key, kid=kid, **{member: where})

    return forge


def real_key_with(member: str) -> Callable[[World], str]:
    """Signed by the real key: only the extra header member differs from the control."""

    def forge(world: World) -> str:
        return signed(
            world, world.current().private_key, kid=world.current().kid, **{member: "https://evil.example/k"}
        )

    return forge


def unknown_kid(world: World) -> str:
    return signed(world, world.current().private_key, kid="no-such-key")


def no_kid(world: World) -> str:
    return signed(world, world.current().private_key)


def kid_of_a_pruned_key(world: World) -> str:
    """Rotate, let the retired key age past the prune horizon, prune it: its own signature, on fresh
    claims, no longer verifies (the process reloads its keys as it does every minute)."""
    retired = world.current()
    settings = world.app.extensions["authsvc.settings"]
    with world.app.app_context(), session_scope(get_engine(world.app)) as session:
        keys.rotate(session=session, sealer=world.sealer, algorithm=world.algorithm)
        row = session.exec(select(SigningKey).where(SigningKey.kid == retired.kid)).one()
        row.retired_at = row.retired_at - keys.prune_horizon(settings) - timedelta(seconds=1)
        session.add(row)
        session.commit()
        assert keys.prune(session=session, horizon=keys.prune_horizon(settings)) == [retired.kid]
    get_codec(world.app).ring.reload()
    return signed(world, retired.private_key, kid=retired.kid)


def control_re_signed(world: World) -> str:
    return signed(world, world.current().private_key, kid=world.current().kid)


def control_genuine(world: World) -> str:
    return world.token


def control_retired_but_not_pruned(world: World) -> str:
    """A rotation retires the key; until pruned its tokens keep verifying."""
    token = world.token
    with world.app.app_context(), session_scope(get_engine(world.app)) as session:
        keys.rotate(session=session, sealer=world.sealer, algorithm=world.algorithm)
    get_codec(world.app).ring.reload()
    return token


def control_hs256_secret_kid(world: World) -> str:
    """A token signed with the HS256 secret (from before the switch) keeps verifying until it expires."""
    secret = world.app.extensions["authsvc.settings"].jwt_secret_key
    return jwt.encode(
        world.claims, secret, algorithm="HS256", headers={"typ": "JWT", "kid": secret_kid(secret)}
    )


CONTROLS = [control_genuine, control_re_signed, control_retired_but_not_pruned, control_hs256_secret_kid]
FORGERIES = [
    hs256_with_public_key,
    hs256_with_the_jwk_as_secret,
    alg_none,
    unknown_kid,
    no_kid,
    kid_of_a_pruned_key,
    header_pointing_at("jku"),
    header_pointing_at("x5u"),
    header_pointing_at("jwk"),
    real_key_with("jku"),
    real_key_with("x5u"),
    real_key_with("x5c"),
    never_published,
    never_published_under_the_real_kid,
]


@pytest.mark.parametrize("forge", CONTROLS, ids=lambda f: f.__name__.replace("_", "-"))
def test_control_tokens_are_accepted(world, forge):
    token = forge(world)
    assert world.client.get("/api/auth/whoami", headers=bearer(token)).status_code == 200
    assert world.client.get("/list/", headers=bearer(token)).status_code == 200


FORGERY_IDS = [
    "alg-HS256-public-key-pem-as-secret",
    "alg-HS256-public-jwk-as-secret",
    "alg-none-with-the-real-kid",
    "unknown-kid",
    "no-kid-under-an-asymmetric-algorithm",
    "kid-of-a-pruned-key",
    "jku-header-to-an-attackers-key",
    "x5u-header-to-an-attackers-key",
    "jwk-header-embedding-an-attackers-key",
    "jku-header-on-a-genuine-signature",
    "x5u-header-on-a-genuine-signature",
    "x5c-header-on-a-genuine-signature",
    "signed-by-a-key-never-published",
    "signed-by-a-key-never-published-under-the-real-kid",
]


@pytest.mark.parametrize("forge", FORGERIES, ids=FORGERY_IDS)
def test_forgery_is_refused(world, forge):
    token = forge(world)
    whoami = world.client.get("/api/auth/whoami", headers=bearer(token))
    assert whoami.status_code == 401 and whoami.get_json()["code"] == "invalid_token", whoami.data
    assert whoami.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert world.client.get("/list/", headers=bearer(token)).data == BAD_TOKEN
    # the genuine token of the same session still works: the refusal was the forgery's
    if forge is not kid_of_a_pruned_key:
        assert world.client.get("/api/auth/whoami", headers=bearer(world.token)).status_code == 200
