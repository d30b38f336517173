"""API.md section 7 through the API: enrolment, the two-step sign-in, codes used once, step-up,
recovery codes, and an admin's reset. Codes are computed with pyotp from the enrolment's secret, at
the moment the service reads (the clock is patched where a step matters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pyotp
import pytest

from authsvc import totp
from authsvc.services import mfa as mfa_service
from tests.conftest import assert_error
from tests.helpers import BAD_LOGIN, GOOD_PASSWORD, PASSWORD, Api, bearer

NOW = datetime(2026, 12, 2, 12, 0, 15, tzinfo=UTC)  # 15 s into a step


@pytest.fixture
def clock(monkeypatch):
    """The instant the MFA service reads; tests move it step by step."""

    class Clock:
        now = NOW

        def step(self, steps: int) -> None:
            self.now = self.now + timedelta(seconds=30 * steps)

    value = Clock()
    monkeypatch.setattr(mfa_service, "utcnow", lambda: value.now)
    return value


def code(secret: str, at: datetime, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(at + timedelta(seconds=30 * steps))


class Enrolled:
    def __init__(self, api: Api, client, username: str, clock):
        self.api, self.client, self.username, self.clock = api, client, username, clock
        self.access = api.sign_in(username)["access_token"]
        started = client.post(
            "/api/auth/mfa/totp", json={"current_password": PASSWORD}, headers=bearer(self.access)
        )
        assert started.status_code == 200, started.get_json()
        self.secret = started.get_json()["secret"]
        self.enrolment = started.get_json()
        confirmed = client.post(
            "/api/auth/mfa/totp/confirm",
            json={"code": code(self.secret, clock.now)},
            headers=bearer(self.access),
        )
        assert confirmed.status_code == 200, confirmed.get_json()
        self.recovery_codes = confirmed.get_json()["recovery_codes"]

    def login(self, **extra):
        response = self.client.post(
            "/api/auth/login", json={"username": self.username, "password": PASSWORD, **extra}
        )
        assert response.status_code == 200
        return response

    def mfa_token(self) -> str:
        body = self.login().get_json()
        assert body["mfa_required"] is True and set(body) == {"mfa_required", "mfa_token", "methods"}
        return body["mfa_token"]

    def verify(self, mfa_token: str, value: str):
        return self.client.post("/api/auth/mfa/verify", json={"mfa_token": mfa_token, "code": value})

    def signed_in_with_code(self) -> dict:
        self.clock.step(1)
        response = self.verify(self.mfa_token(), code(self.secret, self.clock.now))
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def enrolled(api, client, make_user, clock):
    make_user(username="ada")
    return Enrolled(api, client, "ada", clock)


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_enrolment_gives_a_secret_a_uri_and_a_qr_code(enrolled):
    body = enrolled.enrolment
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    assert (
        body["otpauth_uri"].startswith("otpauth://totp/authsvc:ada?")
        and f"secret={body['secret']}" in body["otpauth_uri"]
    )
    assert body["qr_svg"].startswith("<svg") and "</svg>" in body["qr_svg"]
    assert len(enrolled.recovery_codes) == 10 and len(set(enrolled.recovery_codes)) == 10
    assert all(len(c) == 11 and c[5] == "-" for c in enrolled.recovery_codes)
    assert enrolled.api.whoami(enrolled.access).get_json()["mfa_enabled"] is True


def test_a_password_only_token_says_pwd_and_aal1_and_a_coded_one_otp_and_aal2(api, enrolled, make_user):
    make_user(username="bob")
    plain = claims(api.sign_in("bob")["access_token"])
    assert plain["amr"] == ["pwd"] and plain["aal"] == 1
    tokens = enrolled.signed_in_with_code()
    assert (
        claims(tokens["access_token"])["amr"] == ["pwd", "otp"] and claims(tokens["access_token"])["aal"] == 2
    )
    refreshed = api.refresh(tokens["refresh_token"]).get_json()  # a refresh keeps the session's level
    assert claims(refreshed["access_token"])["aal"] == 2 and claims(refreshed["refresh_token"])["amr"] == [
        "pwd",
        "otp",
    ]


def test_the_sign_in_asks_for_a_code_and_gives_no_tokens(enrolled):
    body = enrolled.login().get_json()
    assert body["methods"] == ["totp", "recovery_code"]
    assert "access_token" not in body and "refresh_token" not in body


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_codes_of_the_neighbouring_steps_are_accepted_two_away_refused(enrolled, steps, accepted):
    enrolled.clock.step(10)  # well past the confirming code's step
    response = enrolled.verify(enrolled.mfa_token(), code(enrolled.secret, enrolled.clock.now, steps))
    assert response.status_code == (200 if accepted else 401), response.get_json()
    if not accepted:
        assert response.get_json()["code"] == "invalid_code"


def test_a_code_works_once_and_so_does_every_earlier_step(enrolled):
    enrolled.clock.step(5)
    now = enrolled.clock.now
    assert enrolled.verify(enrolled.mfa_token(), code(enrolled.secret, now, 1)).status_code == 200
    for steps in (1, 0, -1):  # the used step and every earlier one are refused from now on
        assert_error(
            enrolled.verify(enrolled.mfa_token(), code(enrolled.secret, now, steps)), 401, "invalid_code"
        )


def test_the_confirming_code_cannot_sign_in(enrolled):
    assert_error(
        enrolled.verify(enrolled.mfa_token(), code(enrolled.secret, enrolled.clock.now)), 401, "invalid_code"
    )


def test_recovery_codes_work_once_in_any_case_and_spacing(enrolled):
    first = enrolled.recovery_codes[0]
    written = first.upper().replace("-", " ")
    assert enrolled.verify(enrolled.mfa_token(), written).status_code == 200
    assert_error(enrolled.verify(enrolled.mfa_token(), first), 401, "invalid_code")
    assert enrolled.verify(enrolled.mfa_token(), enrolled.recovery_codes[1]).status_code == 200


def test_the_fifth_wrong_code_voids_the_mfa_token(enrolled):
    token = enrolled.mfa_token()
    for _ in range(4):
        assert_error(enrolled.verify(token, "000000"), 401, "invalid_code")
    assert_error(enrolled.verify(token, "000000"), 401, "invalid_code")
    enrolled.clock.step(3)
    assert_error(enrolled.verify(token, code(enrolled.secret, enrolled.clock.now)), 401, "invalid_token")


def test_an_mfa_token_completes_one_sign_in(enrolled):
    token = enrolled.mfa_token()
    enrolled.clock.step(2)
    assert enrolled.verify(token, code(enrolled.secret, enrolled.clock.now)).status_code == 200
    enrolled.clock.step(2)
    assert_error(enrolled.verify(token, code(enrolled.secret, enrolled.clock.now)), 401, "invalid_token")


def test_an_expired_mfa_token_is_refused(enrolled):
    token = enrolled.mfa_token()
    enrolled.clock.step(12)  # six minutes: past the five the mfa_token lives
    assert_error(enrolled.verify(token, code(enrolled.secret, enrolled.clock.now)), 401, "invalid_token")


def test_tokens_that_are_no_mfa_token_are_refused(enrolled, api, make_user):
    make_user(username="bob")
    tokens = api.sign_in("bob")
    for presented in (tokens["access_token"], tokens["refresh_token"], "x" * 43, "short"):
        assert_error(
            enrolled.verify(presented, code(enrolled.secret, enrolled.clock.now, 1)), 401, "invalid_token"
        )


def test_cookie_mode_is_remembered_through_the_second_step(enrolled):
    body = enrolled.login(cookie=True).get_json()
    enrolled.clock.step(1)
    response = enrolled.verify(body["mfa_token"], code(enrolled.secret, enrolled.clock.now))
    assert response.status_code == 200 and "refresh_token" not in response.get_json()
    assert any("refresh_token" in header for header in response.headers.getlist("Set-Cookie"))


def test_token_endpoint_keeps_its_exact_401_for_a_user_with_a_second_factor(enrolled, client):
    response = client.post("/token/", json={"username": "ada", "password": PASSWORD})
    assert response.status_code == 401 and response.data == BAD_LOGIN


@pytest.mark.parametrize("change", ["password", "email", "disable"])
def test_sensitive_changes_need_an_aal2_session(enrolled, client, change, app):
    access = enrolled.access  # signed in before the factor was on: aal 1
    if change == "password":
        response = client.post(
            "/api/auth/password",
            json={"current_password": PASSWORD, "new_password": GOOD_PASSWORD},
            headers=bearer(access),
        )
    elif change == "email":
        response = client.post(
            "/api/auth/email",
            json={"new_email": "new@example.com", "current_password": PASSWORD},
            headers=bearer(access),
        )
    else:
        response = client.open(
            "/api/auth/mfa/totp",
            method="DELETE",
            json={"code": enrolled.recovery_codes[0]},
            headers=bearer(access),
        )
    assert_error(response, 403, "aal2_required")
    me = enrolled.api.whoami(access).get_json()
    assert me["mfa_enabled"] is True and me["email"] == "ada@example.com"
    assert enrolled.verify(enrolled.mfa_token(), enrolled.recovery_codes[0]).status_code == 200  # not spent
    strong = enrolled.signed_in_with_code()["access_token"]
    if change == "password":
        again = client.post(
            "/api/auth/password",
            json={"current_password": PASSWORD, "new_password": GOOD_PASSWORD},
            headers=bearer(strong),
        )
        assert again.status_code == 200 and claims(again.get_json()["access_token"])["aal"] == 2
    elif change == "email":
        again = client.post(
            "/api/auth/email",
            json={"new_email": "new@example.com", "current_password": PASSWORD},
            headers=bearer(strong),
        )
        assert again.status_code == 202
    else:
        again = client.open(
            "/api/auth/mfa/totp",
            method="DELETE",
            json={"code": enrolled.recovery_codes[1]},
            headers=bearer(strong),
        )
        assert again.status_code == 204
        assert enrolled.api.whoami(strong).get_json()["mfa_enabled"] is False
        assert "access_token" in enrolled.login().get_json()  # the password alone signs in again


def test_regenerated_recovery_codes_void_the_old_set(enrolled, client):
    enrolled.clock.step(1)
    response = client.post(
        "/api/auth/mfa/recovery-codes",
        json={"code": code(enrolled.secret, enrolled.clock.now)},
        headers=bearer(enrolled.access),
    )
    assert response.status_code == 200
    fresh = response.get_json()["recovery_codes"]
    assert set(fresh).isdisjoint(enrolled.recovery_codes)
    assert_error(enrolled.verify(enrolled.mfa_token(), enrolled.recovery_codes[2]), 401, "invalid_code")
    assert enrolled.verify(enrolled.mfa_token(), fresh[0]).status_code == 200


def test_enrolment_states(enrolled, client, api, make_user):
    again = client.post(
        "/api/auth/mfa/totp", json={"current_password": PASSWORD}, headers=bearer(enrolled.access)
    )
    assert_error(again, 409, "mfa_state")
    make_user(username="bob")
    bob = api.sign_in("bob")["access_token"]
    nothing = client.post("/api/auth/mfa/totp/confirm", json={"code": "123456"}, headers=bearer(bob))
    assert_error(nothing, 409, "mfa_state")
    wrong = client.post(
        "/api/auth/mfa/totp", json={"current_password": "wrong-password"}, headers=bearer(bob)
    )
    assert_error(wrong, 401, "invalid_credentials")
    first = client.post(
        "/api/auth/mfa/totp", json={"current_password": PASSWORD}, headers=bearer(bob)
    ).get_json()
    second = client.post(
        "/api/auth/mfa/totp", json={"current_password": PASSWORD}, headers=bearer(bob)
    ).get_json()
    assert first["secret"] != second["secret"]  # calling again replaces a pending secret
    stale = client.post(
        "/api/auth/mfa/totp/confirm",
        json={"code": code(first["secret"], enrolled.clock.now)},
        headers=bearer(bob),
    )
    assert_error(stale, 401, "invalid_code")
    assert api.whoami(bob).get_json()["mfa_enabled"] is False


def test_an_admin_resets_a_users_second_factor(enrolled, client, api, make_user):
    from authsvc.models import Role

    admin = make_user(role=Role.ADMIN)
    token = api.sign_in(admin.username)["access_token"]
    assert_error(client.delete("/api/users/1/mfa", headers=bearer(enrolled.access)), 403, "forbidden")
    assert client.delete("/api/users/1/mfa", headers=bearer(token)).status_code == 204
    assert "access_token" in enrolled.login().get_json()
    assert api.whoami(enrolled.access).get_json()["mfa_enabled"] is False


def test_flask_reset_mfa(enrolled, cli):
    result = cli("reset-mfa", "ada")
    assert result.exit_code == 0 and "second factor removed" in result.output
    assert "access_token" in enrolled.login().get_json()
    assert "had no second factor" in cli("reset-mfa", "ada").output
    missing = cli("reset-mfa", "nobody")
    assert missing.exit_code == 1 and "No user named" in missing.output


def test_the_totp_secret_is_sealed_at_rest(enrolled, app):
    from sqlmodel import select

    from authsvc.db import get_engine, session_scope
    from authsvc.models import RecoveryCode, TotpFactor

    with app.app_context(), session_scope(get_engine(app)) as session:
        [factor] = session.exec(select(TotpFactor)).all()
        hashes = [row.code_hash for row in session.exec(select(RecoveryCode)).all()]
    assert enrolled.secret not in factor.secret
    assert len(hashes) == 10
    assert not any(totp.normalize_recovery_code(c) in hashes for c in enrolled.recovery_codes)


HOSTILE_CODES = [
    None,
    123456,
    1.5,
    True,
    [],
    {},
    "",
    "x" * 65,
    "１２３４５６",
    "12345",
    "1234567",
    "abcdef",
    "\u0000" * 6,
]


@pytest.mark.parametrize("value", HOSTILE_CODES, ids=repr)
@pytest.mark.parametrize(
    "path", ["/api/auth/mfa/verify", "/api/auth/mfa/totp/confirm", "/api/auth/mfa/recovery-codes"]
)
def test_hostile_codes_get_a_clear_4xx(enrolled, client, path, value):
    body = {"code": value, "mfa_token": enrolled.mfa_token()}
    response = client.post(path, json=body, headers=bearer(enrolled.access))
    assert 400 <= response.status_code < 500, response.data
    assert response.get_json()["code"] in {"validation_error", "invalid_code", "mfa_state"}


@pytest.mark.parametrize("value", [None, 5, [], "x" * 4097, ""], ids=repr)
def test_hostile_mfa_tokens_get_a_clear_4xx(client, value):
    response = client.post("/api/auth/mfa/verify", json={"mfa_token": value, "code": "123456"})
    assert response.status_code in {400, 401}, response.data


def test_wrong_codes_spend_the_failed_sign_in_budget(make_app, clock):
    app = make_app(ratelimit_enabled=True, ratelimit_login_username="3/minute")
    client = app.test_client()
    api = Api(client)
    assert api.register("ada").status_code == 201
    user = Enrolled(api, client, "ada", clock)
    statuses = [user.verify(user.mfa_token(), "000000").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    # the account's failure budget is spent by wrong codes: the password is not even tried now
    assert client.post("/api/auth/login", json={"username": "ada", "password": PASSWORD}).status_code == 429


def test_another_users_code_does_not_complete_an_mfa_token(enrolled, api, client, make_user, clock):
    make_user(username="bob")
    bob = Enrolled(api, client, "bob", clock)
    adas_token = enrolled.mfa_token()
    clock.step(1)
    assert_error(enrolled.verify(adas_token, code(bob.secret, clock.now)), 401, "invalid_code")
    assert_error(enrolled.verify(adas_token, bob.recovery_codes[0]), 401, "invalid_code")
    assert enrolled.verify(adas_token, code(enrolled.secret, clock.now)).status_code == 200
    assert bob.verify(bob.mfa_token(), bob.recovery_codes[0]).status_code == 200  # bob's code was not spent
