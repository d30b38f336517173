"""How strongly a token's session signed in (``amr``, ``aal``): TokenVerifier's ``aal=`` and
require_token's 403 ``aal2_required``.

Tokens of every level, and of none (minted before authsvc had levels), are signed here with a key
of this module's own, served as the JWKS through a mock transport: the server cannot be made to mint
a token without ``aal``. A real server's password sign-in checks the same rule on a real token; its
second-factor tokens are in test_second_factor.py.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask, g
from flask.testing import FlaskClient

from authsvc_client import AccessClaims, InsufficientLevel, InvalidToken, TokenVerifier
from authsvc_client.flask import init_app, require_token
from authsvc_client.pytest_plugin import AuthsvcUser

JWKS_URL = "http://authsvc.test/.well-known/jwks.json"
KID = "levels-test-key"
KEY = ec.generate_private_key(ec.SECP256R1())
PASSWORD = {"amr": ["pwd"], "aal": 1}
SECOND_FACTOR = {"amr": ["pwd", "otp"], "aal": 2}
NO_LEVEL: dict[str, Any] = {}


def mint(level: dict[str, Any], **changes: Any) -> str:
    """An access token as authsvc writes one, of ``level``, signed with the module's key."""
    now = int(time.time())
    claims = {
        "sub": "7", "sid": secrets.token_hex(8), "jti": secrets.token_hex(8), "type": "access",
        "iat": now, "nbf": now, "exp": now + 300, "iss": "authsvc", "aud": "authsvc", **level, **changes,
    }  # fmt: skip
    return jwt.encode(claims, KEY, algorithm="ES256", headers={"kid": KID})


def jwks(request: httpx.Request) -> httpx.Response:
    public = jwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
    return httpx.Response(200, json={"keys": [{**public, "kid": KID, "alg": "ES256", "use": "sig"}]})


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(jwks)) as client:
        yield client


@pytest.fixture
def local(http: httpx.Client) -> TokenVerifier:
    """A verifier of this module's tokens that demands nothing beyond a live token (``aal`` 1)."""
    return TokenVerifier(JWKS_URL, "authsvc", "authsvc", http=http)


@pytest.mark.parametrize(
    ("level", "required", "accepted"),
    [
        (PASSWORD, 1, True),
        (PASSWORD, 2, False),
        (SECOND_FACTOR, 1, True),
        (SECOND_FACTOR, 2, True),
        (NO_LEVEL, 1, True),
        (NO_LEVEL, 2, False),  # no aal counts as 1
    ],
    ids=["aal1-at-1", "aal1-at-2", "aal2-at-1", "aal2-at-2", "none-at-1", "none-at-2"],
)
def test_a_token_below_the_level_asked_for_is_refused(
    local: TokenVerifier, level: dict[str, Any], required: int, accepted: bool
) -> None:
    token = mint(level)
    if accepted:
        claims = local.verify(token, aal=required)
        assert (claims.amr, claims.aal) == (tuple(level.get("amr", ())), level.get("aal", 1))
        return
    with pytest.raises(InsufficientLevel) as refused:
        local.verify(token, aal=required)
    assert (refused.value.code, refused.value.required, refused.value.actual) == ("aal2_required", 2, 1)
    assert isinstance(refused.value, InvalidToken)  # code that catches only InvalidToken still refuses


def test_the_verifiers_own_level_is_the_default_and_a_call_may_ask_less(http: httpx.Client) -> None:
    strict = TokenVerifier(JWKS_URL, "authsvc", "authsvc", aal=2, http=http)
    assert strict.verify(mint(SECOND_FACTOR)).aal == 2
    with pytest.raises(InsufficientLevel):
        strict.verify(mint(PASSWORD))
    assert strict.verify(mint(PASSWORD), aal=1).amr == ("pwd",)


@pytest.mark.parametrize(
    "changes",
    [{"aal": "2"}, {"aal": True}, {"aal": 0}, {"aal": 2.0}, {"amr": "pwd otp"}, {"amr": ["pwd", 1]}],
    ids=["aal-string", "aal-bool", "aal-zero", "aal-float", "amr-string", "amr-not-strings"],
)
def test_a_malformed_level_is_an_invalid_token(local: TokenVerifier, changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken, match="malformed") as refused:
        local.verify(mint(SECOND_FACTOR, **changes))
    assert not isinstance(refused.value, InsufficientLevel)


@pytest.mark.parametrize("aal", [0, -1, True, "2"])
def test_a_level_that_cannot_be_demanded_is_a_value_error(local: TokenVerifier, aal: Any) -> None:
    with pytest.raises(ValueError, match="aal"):
        local.verify(mint(SECOND_FACTOR), aal=aal)
    with pytest.raises(ValueError, match="aal"):
        TokenVerifier(JWKS_URL, "authsvc", "authsvc", aal=aal)
    with pytest.raises(ValueError, match="aal"):
        require_token(aal=aal)  # at decoration, not as a 500 at the first request


def test_a_real_password_sign_in_is_aal_1(
    verifier: TokenVerifier, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    access = authsvc_user().auth.access_token or ""
    claims = verifier.verify(access)
    assert (claims.amr, claims.aal) == (("pwd",), 1)
    with pytest.raises(InsufficientLevel):
        verifier.verify(access, aal=2)


def test_a_dead_token_is_invalid_before_its_level_is_looked_at(
    introspecting: TokenVerifier, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    """The level is checked last: a signed-out password token is 401 material, not 403."""
    ada = authsvc_user()
    access = ada.auth.access_token or ""
    ada.auth.logout()
    with pytest.raises(InvalidToken, match="introspection") as refused:
        introspecting.verify(access, aal=2)
    assert not isinstance(refused.value, InsufficientLevel)


# -- require_token(aal=2) -------------------------------------------------------------------------
def payments_app(verifier: TokenVerifier) -> Flask:
    app = Flask("payments")
    init_app(app, verifier, realm="payments")

    @app.get("/balance")
    @require_token()
    def balance() -> dict[str, object]:
        return {"aal": g.token_claims.aal}

    @app.post("/transfers")
    @require_token(aal=2)
    def transfer() -> dict[str, object]:
        claims: AccessClaims = g.token_claims
        return {"amr": list(claims.amr), "aal": claims.aal}

    return app


@pytest.fixture
def client(local: TokenVerifier) -> FlaskClient:
    return payments_app(local).test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_second_factor_token_reaches_a_view_that_needs_aal_2(client: FlaskClient) -> None:
    answer = client.post("/transfers", headers=bearer(mint(SECOND_FACTOR)))
    assert answer.status_code == 200
    assert answer.json == {"amr": ["pwd", "otp"], "aal": 2}


@pytest.mark.parametrize("level", [PASSWORD, NO_LEVEL], ids=["aal1", "no-aal"])
def test_a_lower_token_is_403_aal2_required_in_authsvcs_error_shape(
    client: FlaskClient, level: dict[str, Any]
) -> None:
    token = mint(level)
    answer = client.post("/transfers", headers=bearer(token))
    assert answer.status_code == 403
    assert answer.json == {"detail": "Sign in with your second factor to do this.", "code": "aal2_required"}
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer realm="payments", error="insufficient_user_authentication"'
    )
    assert client.get("/balance", headers=bearer(token)).json == {"aal": 1}  # the same token, no aal asked


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Bearer not.a.token"}, "invalid_token"),
        (bearer(mint(SECOND_FACTOR, exp=int(time.time()) - 60)), "invalid_token"),
        (bearer(mint(SECOND_FACTOR, type="refresh")), "invalid_token"),
    ],
    ids=["no-token", "garbage", "expired-aal2", "refresh-aal2"],
)
def test_a_missing_or_invalid_token_stays_401(
    client: FlaskClient, headers: dict[str, str], code: str
) -> None:
    answer = client.post("/transfers", headers=headers)
    assert answer.status_code == 401
    assert answer.json is not None and answer.json["code"] == code


def test_a_real_password_token_is_403_on_a_view_that_needs_aal_2(
    verifier: TokenVerifier, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    token = authsvc_user().auth.access_token or ""
    answer = payments_app(verifier).test_client().post("/transfers", headers=bearer(token))
    assert (answer.status_code, answer.json["code"]) == (403, "aal2_required")
