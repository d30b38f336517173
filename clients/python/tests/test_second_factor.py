"""The two-step sign-in of an account with a second factor (API.md section 7), against the session's
real authsvc: ``Authsvc.login``/``verify_mfa``, and ``AuthsvcAuth``'s sync and async flows.

Each user is enrolled through the API (``POST /api/auth/mfa/totp``, then ``.../confirm`` with the
current code). authsvc takes each TOTP step once, and refuses every step before the last one used,
so a test uses ``next_code`` at most once per user and signs in again with recovery codes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import jwt
import pyotp
import pytest
from flask import Flask, g

from authsvc_client import Authsvc, AuthsvcAuth, AuthsvcError, MfaRequired, TokenVerifier
from authsvc_client.flask import init_app, require_token
from authsvc_client.pytest_plugin import AuthsvcUser
from authsvc_client.testing import AuthsvcServer


@dataclass
class MfaUser:
    """A user with TOTP on: the enrolled secret and the recovery codes not used yet."""

    user: AuthsvcUser
    totp: pyotp.TOTP
    recovery_codes: list[str]

    def next_code(self) -> str:
        """A TOTP code authsvc takes now: the next step's (enrolment spent the current one, and one
        step of drift is allowed)."""
        return self.totp.at(time.time() + self.totp.interval)

    def recovery_code(self) -> str:
        return self.recovery_codes.pop()

    def wrong_code(self) -> str:
        """Six digits that are no code of the three steps authsvc would take."""
        now = time.time()
        live = {self.totp.at(now + steps * self.totp.interval) for steps in (-1, 0, 1, 2)}
        return next(code for code in ("000000", "111111", "222222", "333333", "444444") if code not in live)


@pytest.fixture
def mfa_user(authsvc_user: Callable[..., AuthsvcUser]) -> Callable[[], MfaUser]:
    """A factory: a new user enrolled in TOTP through the API. Its own ``auth`` keeps the session it
    signed in with before enrolling (``aal`` 1)."""

    def make() -> MfaUser:
        user = authsvc_user()
        enrolled = user.client.post("/api/auth/mfa/totp", json={"current_password": user.password})
        totp = pyotp.TOTP(enrolled.raise_for_status().json()["secret"])
        confirmed = user.client.post("/api/auth/mfa/totp/confirm", json={"code": totp.now()})
        return MfaUser(user, totp, confirmed.raise_for_status().json()["recovery_codes"])

    return make


@pytest.fixture
def api(authsvc_server: AuthsvcServer) -> Callable[[], Authsvc]:
    return lambda: Authsvc(authsvc_server.base_url)


def level(access: str) -> tuple[list[str], int]:
    claims = jwt.decode(access, options={"verify_signature": False})
    return claims["amr"], claims["aal"]


def test_login_asks_for_the_second_factor_and_verify_mfa_finishes_it(
    api: Callable[[], Authsvc], mfa_user: Callable[[], MfaUser], verifier: TokenVerifier
) -> None:
    ada = mfa_user()
    with api() as client:
        with pytest.raises(MfaRequired) as asked:
            client.login(ada.user.username, ada.user.password)
        pending = asked.value
        assert isinstance(pending, AuthsvcError)
        assert (pending.status, pending.code) == (401, "mfa_required")
        assert pending.methods == ["totp", "recovery_code"] and pending.mfa_token
        pair = client.verify_mfa(pending.mfa_token, ada.next_code())
        assert pair.refresh_token is not None
        claims = verifier.verify(pair.access_token, aal=2)  # the real server's second-factor token
        assert (claims.amr, claims.aal, claims.user_id) == (("pwd", "otp"), 2, ada.user.id)
        assert level(client.refresh(pair.refresh_token).access_token) == (["pwd", "otp"], 2)
        with pytest.raises(AuthsvcError) as spent:
            client.verify_mfa(pending.mfa_token, ada.recovery_code())
        assert (spent.value.status, spent.value.code) == (401, "invalid_token")  # one sign-in per token


def test_a_wrong_code_is_invalid_code_and_a_recovery_code_works_once(
    api: Callable[[], Authsvc], mfa_user: Callable[[], MfaUser]
) -> None:
    ada = mfa_user()
    code = ada.recovery_code()
    with api() as client:

        def challenge() -> str:
            with pytest.raises(MfaRequired) as asked:
                client.login(ada.user.username, ada.user.password)
            return asked.value.mfa_token

        mfa_token = challenge()
        with pytest.raises(AuthsvcError) as wrong:
            client.verify_mfa(mfa_token, ada.wrong_code())
        assert (wrong.value.status, wrong.value.code) == (401, "invalid_code")
        assert level(client.verify_mfa(mfa_token, code).access_token) == (["pwd", "otp"], 2)
        with pytest.raises(AuthsvcError) as reused:
            client.verify_mfa(challenge(), code)
        assert reused.value.code == "invalid_code"


def test_a_password_only_account_still_gets_its_pair_at_once(
    api: Callable[[], Authsvc], authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    ada = authsvc_user()
    with api() as client:
        assert level(client.login(ada.username, ada.password).access_token) == (["pwd"], 1)


def test_the_auth_raises_mfa_required_then_signs_in_with_a_code(
    authsvc_server: AuthsvcServer, mfa_user: Callable[[], MfaUser], verifier: TokenVerifier
) -> None:
    ada = mfa_user()
    auth = AuthsvcAuth(authsvc_server.base_url, ada.user.username, ada.user.password)
    with httpx.Client(base_url=authsvc_server.base_url, auth=auth, timeout=10) as client:
        with pytest.raises(MfaRequired) as asked:
            client.get("/api/auth/whoami")
        assert (auth.access_token, auth.sign_ins) == (None, 0)
        with pytest.raises(AuthsvcError) as wrong:
            auth.sign_in_with_code(asked.value.mfa_token, "not-a-code", client=client)
        assert wrong.value.code == "invalid_code" and auth.access_token is None
        auth.sign_in_with_code(asked.value.mfa_token, ada.next_code(), client=client)
        assert client.get("/api/auth/whoami").json()["username"] == ada.user.username
        assert (auth.sign_ins, auth.refreshes) == (1, 0)  # the request used the kept pair
        assert verifier.verify(auth.access_token or "", aal=2).amr == ("pwd", "otp")
        auth.logout(client=client)
        with pytest.raises(MfaRequired):  # signed out: the password alone is not enough again
            client.get("/api/auth/whoami")


def test_the_async_flow_does_the_same(authsvc_server: AuthsvcServer, mfa_user: Callable[[], MfaUser]) -> None:
    ada = mfa_user()
    auth = AuthsvcAuth(authsvc_server.base_url, ada.user.username, ada.user.password)

    async def main() -> None:
        async with httpx.AsyncClient(base_url=authsvc_server.base_url, auth=auth, timeout=10) as client:
            with pytest.raises(MfaRequired) as asked:
                await client.get("/api/auth/whoami")
            await auth.asign_in_with_code(asked.value.mfa_token, ada.recovery_code(), client=client)
            answer = await client.get("/api/auth/whoami")
            assert answer.json()["id"] == ada.user.id
            await auth.alogout(client=client)

    asyncio.run(main())
    assert auth.sign_ins == 1 and auth.access_token is None


def test_a_resource_server_lets_the_second_factor_session_through_and_not_the_first(
    verifier: TokenVerifier, api: Callable[[], Authsvc], mfa_user: Callable[[], MfaUser]
) -> None:
    ada = mfa_user()
    app = Flask("payments")
    init_app(app, verifier)
    app.post("/transfers")(require_token(aal=2)(lambda: {"amr": list(g.token_claims.amr)}))
    with api() as client:
        with pytest.raises(MfaRequired) as asked:
            client.login(ada.user.username, ada.user.password)
        strong = client.verify_mfa(asked.value.mfa_token, ada.recovery_code()).access_token
    weak = ada.user.auth.access_token  # the session from before enrolment: password only
    http = app.test_client()
    allowed = http.post("/transfers", headers={"Authorization": f"Bearer {strong}"})
    assert (allowed.status_code, allowed.json) == (200, {"amr": ["pwd", "otp"]})
    refused = http.post("/transfers", headers={"Authorization": f"Bearer {weak}"})
    assert (refused.status_code, refused.json["code"]) == (403, "aal2_required")
    assert http.post("/transfers").status_code == 401
