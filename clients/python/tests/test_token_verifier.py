"""TokenVerifier against the live JWKS of real servers, under ES256 and EdDSA."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from authsvc_client import Authsvc, InvalidToken, TokenVerifier
from authsvc_client.pytest_plugin import AuthsvcUser
from authsvc_client.testing import AuthsvcServer, running_authsvc

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module", params=["ES256", "EdDSA"])
def keyed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, AuthsvcServer]]:
    """A server of each asymmetric algorithm: the session's (ES256) and one of this module's (EdDSA)."""
    if request.param == "ES256":
        yield "ES256", request.getfixturevalue("authsvc_server")
        return
    with running_authsvc(tmp_path_factory.mktemp("eddsa"), FLASK_JWT_ALGORITHM="EdDSA") as server:
        yield "EdDSA", server


def pair_of(server: AuthsvcServer, username: str | None = None) -> tuple[str, str]:
    """A new user's access and refresh tokens from the live server."""
    username = username or f"v-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with Authsvc(server.base_url) as api:
        api.register(username, f"{username}@example.com", password)
        pair = api.login(username, password)
    assert pair.refresh_token is not None
    return pair.access_token, pair.refresh_token


def forge(
    claims: dict[str, Any], *, kid: str, algorithm: str = "ES256", key: PrivateKey | None = None
) -> str:
    """A token signed with a key authsvc never had, under a ``kid`` of the caller's choice."""
    if key is None:
        key = (
            ec.generate_private_key(ec.SECP256R1())
            if algorithm == "ES256"
            else ed25519.Ed25519PrivateKey.generate()
        )
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_accepts_a_live_access_token(keyed: tuple[str, AuthsvcServer]) -> None:
    algorithm, server = keyed
    access, _ = pair_of(server)
    with TokenVerifier(server.jwks_url, server.issuer, server.audience) as verifier:
        claims = verifier.verify(access)
    assert jwt.get_unverified_header(access)["alg"] == algorithm
    assert claims.sub == jwt.decode(access, options={"verify_signature": False})["sub"]
    assert claims.role is None  # access tokens carry no role: introspection brings it


def refusals(server: AuthsvcServer, algorithm: str) -> dict[str, Callable[[], str]]:
    """Tokens that must all be refused, each with the one fault its name says."""
    access, refresh = pair_of(server)
    claims = jwt.decode(access, options={"verify_signature": False})
    kid = jwt.get_unverified_header(access)["kid"]
    with Authsvc(server.base_url) as api:
        published = next(k for k in api.jwks()["keys"] if k["kid"] == kid)
    public_pem = jwt.PyJWK(published).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    other_key = ec.generate_private_key(ec.SECP256R1())

    def hs256_with_public_key() -> str:  # the classic confusion: the public key as an HMAC secret
        head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        body = b64(json.dumps(claims).encode())
        mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64(mac)}"

    def tampered() -> str:
        head, body, signature = access.split(".")
        changed = b64(json.dumps({**claims, "sub": str(int(claims["sub"]) + 1)}).encode())
        return f"{head}.{changed}.{signature}"

    return {
        "refresh-type": lambda: refresh,
        "forged-with-a-real-kid": lambda: forge(claims, kid=kid, algorithm=algorithm),
        "tampered-payload": tampered,
        "alg-none": lambda: jwt.encode(claims, None, algorithm="none", headers={"kid": kid}),
        "hs256-with-the-public-key": hs256_with_public_key,
        "jku-header": lambda: jwt.encode(
            claims, other_key, algorithm="ES256", headers={"kid": kid, "jku": "http://127.0.0.1:9/keys"}
        ),
        "no-kid": lambda: jwt.encode(claims, other_key, algorithm="ES256"),
        "garbage": lambda: "not.a.token",
        "empty": lambda: "",
    }


def test_refuses_forged_tampered_and_refresh_tokens(keyed: tuple[str, AuthsvcServer]) -> None:
    algorithm, server = keyed
    with TokenVerifier(server.jwks_url, server.issuer, server.audience) as verifier:
        for name, make in refusals(server, algorithm).items():
            with pytest.raises(InvalidToken):
                verifier.verify(make())
                pytest.fail(f"{name} was accepted")


def test_refuses_wrong_audience_and_issuer(keyed: tuple[str, AuthsvcServer]) -> None:
    _, server = keyed
    access, _ = pair_of(server)
    for issuer, audience in ((server.issuer, "another-service"), ("someone-else", server.audience)):
        with TokenVerifier(server.jwks_url, issuer, audience) as verifier, pytest.raises(InvalidToken):
            verifier.verify(access)


def test_refuses_expired_and_early_tokens_with_leeway(keyed: tuple[str, AuthsvcServer]) -> None:
    _, server = keyed
    access, _ = pair_of(server)
    claims = jwt.decode(access, options={"verify_signature": False})
    clock = Clock(claims["exp"] + 1)
    with TokenVerifier(server.jwks_url, server.issuer, server.audience, clock=clock) as verifier:
        with pytest.raises(InvalidToken, match="expired"):
            verifier.verify(access)
        clock.now = claims["nbf"] - 5
        with pytest.raises(InvalidToken, match="not yet valid"):
            verifier.verify(access)
    with TokenVerifier(server.jwks_url, server.issuer, server.audience, leeway=10, clock=clock) as lenient:
        assert lenient.verify(access).sub == claims["sub"]  # 5 s early, within 10 s of leeway
        clock.now = claims["exp"] + 5
        assert lenient.verify(access).sub == claims["sub"]


def test_picks_up_keys_made_by_flask_keys_rotate(authsvc_server: AuthsvcServer) -> None:
    """Two rotations make the signing key one the verifier has never seen; it fetches the JWKS again,
    but only once the unknown-kid interval has passed."""
    monotonic = Clock(0.0)
    with TokenVerifier(
        authsvc_server.jwks_url, authsvc_server.issuer, authsvc_server.audience, monotonic=monotonic
    ) as verifier:
        before, _ = pair_of(authsvc_server)
        verifier.verify(before)
        known = set(verifier.keys._keys)
        authsvc_server.cli("keys", "rotate")
        authsvc_server.cli("keys", "rotate")
        time.sleep(1.1)  # the server reloads its keys every second (conftest.py)
        after, _ = pair_of(authsvc_server)
        assert jwt.get_unverified_header(after)["kid"] not in known
        with pytest.raises(InvalidToken, match="unknown kid"):
            verifier.verify(after)  # within 10 s of the last fetch: no new one
        monotonic.now += 10
        assert verifier.verify(after).sub
        assert verifier.verify(before).sub  # the old key, retired, still verifies
        assert verifier.keys.fetches == 2


def hits_settled(server: AuthsvcServer, path: str) -> int:
    """The access log's count for ``path`` once gunicorn has written the lines of answers sent."""
    time.sleep(0.3)
    return server.hits(path)


def test_a_burst_of_random_kids_fetches_the_jwks_at_most_once_per_ten_seconds(
    authsvc_server: AuthsvcServer, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    path = "/.well-known/jwks.json"
    access = authsvc_user().auth.access_token
    assert access is not None
    claims = jwt.decode(access, options={"verify_signature": False})
    key = ec.generate_private_key(ec.SECP256R1())
    forged = [forge(claims, kid=secrets.token_urlsafe(16), key=key) for _ in range(1000)]
    hits = hits_settled(authsvc_server, path)
    started = time.monotonic()
    with TokenVerifier(authsvc_server.jwks_url, authsvc_server.issuer, authsvc_server.audience) as verifier:
        verifier.verify(access)  # the first fetch
        for token in forged:
            with pytest.raises(InvalidToken):
                verifier.verify(token)
        elapsed = time.monotonic() - started
        fetched = hits_settled(authsvc_server, path) - hits
    assert fetched == verifier.keys.fetches
    assert 1 <= fetched <= 1 + int(elapsed // 10), (fetched, elapsed)


def test_unknown_kids_refetch_once_per_interval_on_an_injected_clock(authsvc_server: AuthsvcServer) -> None:
    monotonic = Clock(0.0)
    claims = {"sub": "1", "type": "access", "exp": int(time.time()) + 60}
    with TokenVerifier(
        authsvc_server.jwks_url, authsvc_server.issuer, authsvc_server.audience, monotonic=monotonic
    ) as verifier:
        for step in range(30):  # 30 s in steps of 1 s, ten unknown kids each
            for _ in range(10):
                with pytest.raises(InvalidToken):
                    verifier.verify(forge(claims, kid=f"made-up-{step}-{secrets.token_hex(4)}"))
            monotonic.now += 1
        assert verifier.keys.fetches == 3  # at 0, 10 and 20 s


def test_introspection_brings_the_role_and_sees_a_logout(
    authsvc_server: AuthsvcServer, service_client: tuple[str, str], authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    user = authsvc_user()
    access = user.auth.access_token
    assert access is not None
    clock = Clock(time.time())
    with TokenVerifier(
        authsvc_server.jwks_url,
        authsvc_server.issuer,
        authsvc_server.audience,
        introspection=(authsvc_server.introspection_url, *service_client),
        clock=clock,
    ) as verifier:
        claims = verifier.verify(access)
        assert (claims.role, claims.username) == ("user", user.username)
        verifier.verify(access)
        assert verifier.introspections == 1  # the second answer came from the cache
        user.auth.logout()
        assert verifier.verify(access).role == "user"  # cached for 5 s: the price of the cache
        clock.now += 5.1
        with pytest.raises(InvalidToken, match="introspection"):
            verifier.verify(access)
        assert verifier.introspections == 2
