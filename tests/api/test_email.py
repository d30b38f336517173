"""API.md section 6 through the API: verification, forgot and reset, email change, and the rules
every one-time link obeys. Messages are captured from the outbox (``Mailbox``); the real SMTP path
has its own tests (tests/system/test_mail_delivery.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from authsvc.db import get_engine, session_scope
from authsvc.mail import get_mail
from authsvc.models import OneTimeToken, OutboxMessage, Role, User, utcnow
from tests.conftest import assert_error
from tests.helpers import BAD_LOGIN, GOOD_PASSWORD, PASSWORD, Api, bearer, password_works
from tests.mailbox import Mailbox
from tests.mailserver import text_of

NEW_PASSWORD = "a-brand-new-passphrase-8"
FORGOT = {"message": "If that address has an account, a reset link is on its way."}


@pytest.fixture
def mailbox(app):
    return Mailbox(app)


def user_row(app, username: str) -> User:
    with app.app_context(), session_scope(get_engine(app)) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        session.expunge(user)
        return user


def registered(api: Api, mailbox: Mailbox, username: str) -> str:
    """Register ``username``; the token of the verification link it was sent."""
    assert api.register(username).status_code == 201
    return mailbox.token("verify", to=f"{username}@example.com")


# --- verification -------------------------------------------------------------------------------


def test_registration_mails_a_verification_link_that_works_once(api, client, mailbox):
    response = api.register("ada")
    assert response.status_code == 201
    assert response.get_json()["email_verified"] is False
    [message] = mailbox.deliver()
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Confirm your email address"
    assert message["From"] == "no-reply@[127.0.0.1]"
    text = text_of(message)
    token = re.search(r"http://127\.0\.0\.1:8000/demo#verify=([A-Za-z0-9_-]{43})\s", text).group(1)
    assert token in text.split("POST /api/auth/email/verify instead:")[1]  # the bare token, for API clients
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f'href="http://127.0.0.1:8000/demo#verify={token}"' in html

    verified = client.post("/api/auth/email/verify", json={"token": token})
    assert verified.status_code == 200
    assert verified.get_json()["email_verified"] is True
    assert verified.get_json()["email"] == "ada@example.com"
    access = api.sign_in("ada")["access_token"]
    assert api.whoami(access).get_json()["email_verified"] is True
    assert_error(client.post("/api/auth/email/verify", json={"token": token}), 400, "invalid_link")


def test_no_link_is_sent_when_verification_is_off(make_app):
    app = make_app(email_verification="off")
    mailbox = Mailbox(app)
    assert Api(app.test_client()).register("ada").status_code == 201
    assert mailbox.deliver() == []


def test_required_verification_blocks_sign_in_until_verified(make_app):
    app = make_app(email_verification="required")
    client, mailbox = app.test_client(), Mailbox(app)
    api = Api(client)
    token = registered(api, mailbox, "ada")
    credentials = {"username": "ada", "password": PASSWORD}
    assert_error(client.post("/api/auth/login", json=credentials), 403, "email_not_verified")
    assert_error(
        client.post("/api/auth/login", json=credentials | {"cookie": True}), 403, "email_not_verified"
    )
    compat = client.post("/token/", json=credentials)
    assert compat.status_code == 401 and compat.data == BAD_LOGIN
    wrong = client.post("/api/auth/login", json={"username": "ada", "password": "wrong-password"})
    assert_error(wrong, 401, "invalid_credentials")  # the refusal never tells a guesser more
    assert client.post("/api/auth/email/verify", json={"token": token}).status_code == 200
    assert client.post("/api/auth/login", json=credentials).status_code == 200
    assert client.post("/token/", json=credentials).status_code == 200


def test_users_made_by_operators_and_admins_count_as_verified(make_app):
    app = make_app(email_verification="required")
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=["create-user", "root", "--email", "root@example.com", "--admin"],
        input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n",
    )
    assert made.exit_code == 0, made.output
    api = Api(app.test_client())
    admin = api.sign_in("root", GOOD_PASSWORD)["access_token"]
    created = app.test_client().post(
        "/api/users",
        json={"username": "bob", "email": "bob@example.com", "password": PASSWORD, "role": "user"},
        headers=bearer(admin),
    )
    assert created.status_code == 201 and created.get_json()["email_verified"] is True
    assert api.sign_in("bob")["access_token"]


def test_an_admin_changing_an_address_unverifies_it_unless_vouching(api, client, mailbox, make_user):
    admin = make_user(role=Role.ADMIN)
    token = api.sign_in(admin.username)["access_token"]
    bob = make_user()
    patched = client.patch(
        f"/api/users/{bob.id}", json={"email": "bob-new@example.com"}, headers=bearer(token)
    )
    assert patched.status_code == 200 and patched.get_json()["email_verified"] is False
    vouched = client.patch(f"/api/users/{bob.id}", json={"email_verified": True}, headers=bearer(token))
    assert vouched.get_json()["email_verified"] is True
    both = client.patch(
        f"/api/users/{bob.id}",
        json={"email": "bob3@example.com", "email_verified": True},
        headers=bearer(token),
    )
    assert both.get_json()["email_verified"] is True


def test_resend_sends_a_new_link_and_voids_the_old_one(api, client, mailbox):
    first = registered(api, mailbox, "ada")
    accepted = client.post("/api/auth/email/verify/resend", json={"email": "ada@example.com"})
    assert accepted.status_code == 202
    second = mailbox.token("verify")
    assert second != first
    assert_error(client.post("/api/auth/email/verify", json={"token": first}), 400, "invalid_link")
    assert client.post("/api/auth/email/verify", json={"token": second}).status_code == 200
    # verified now: a resend (signed in, no body at all) answers the same and sends nothing
    access = api.sign_in("ada")["access_token"]
    again = client.post("/api/auth/email/verify/resend", headers=bearer(access))
    assert again.status_code == 202 and again.get_json() == accepted.get_json()
    unknown = client.post("/api/auth/email/verify/resend", json={"email": "nobody@example.com"})
    assert unknown.status_code == 202 and unknown.get_json() == accepted.get_json()
    assert mailbox.deliver() == []


# --- forgot and reset ---------------------------------------------------------------------------


def test_forgot_answers_alike_for_existing_unknown_and_deactivated_addresses(api, client, mailbox, make_user):
    make_user(username="ada", email="ada@example.com")
    make_user(username="gone", email="gone@example.com", is_active=False)
    answers = [
        client.post("/api/auth/password/forgot", json={"email": address})
        for address in ("ada@example.com", "nobody@example.com", "gone@example.com")
    ]
    for response in answers:
        assert response.status_code == 202
        assert response.data == answers[0].data
        assert response.get_json() == FORGOT
    headers = [
        sorted((k, v) for k, v in r.headers.items() if k not in {"Date", "X-Request-ID"}) for r in answers
    ]
    assert headers[0] == headers[1] == headers[2]
    [message] = mailbox.deliver()
    assert message["To"] == "ada@example.com" and message["Subject"] == "Reset your password"


def test_reset_sets_the_password_and_signs_out_every_session(api, client, mailbox, make_user, app):
    make_user(username="ada", email="ada@example.com")
    tokens = api.sign_in("ada")
    client.post("/api/auth/password/forgot", json={"email": "ada@example.com"})
    token = mailbox.token("reset")
    weak = client.post("/api/auth/password/reset", json={"token": token, "new_password": "password1"})
    assert_error(weak, 400, "validation_error")  # refused by the policy: the link still works
    done = client.post("/api/auth/password/reset", json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 200 and done.get_json() == {"message": "Password changed"}
    assert password_works(app, "ada", NEW_PASSWORD) and not password_works(app, "ada", PASSWORD)
    assert api.whoami(tokens["access_token"]).status_code == 401
    assert api.refresh(tokens["refresh_token"]).status_code == 401
    [notice] = mailbox.deliver()
    assert notice["To"] == "ada@example.com" and notice["Subject"] == "Your password was changed"
    assert user_row(app, "ada").email_verified is True  # the link reached the address


def expire_links(app, by: timedelta) -> None:
    with app.app_context(), session_scope(get_engine(app)) as session:
        for row in session.exec(select(OneTimeToken)).all():
            row.expires_at = utcnow() - by
            session.add(row)
        session.commit()


@pytest.mark.parametrize(
    "case",
    [
        "used_twice",
        "expired",
        "voided_by_newer",
        "voided_by_password_change",
        "verify_token_on_reset",
        "unknown",
        "wrong_length",
        "address_changed",
    ],
)
def test_a_reset_link_that_is_not_live_is_invalid_and_changes_nothing(
    case, api, client, mailbox, make_user, app
):
    make_user(username="ada", email="ada@example.com")
    client.post("/api/auth/password/forgot", json={"email": "ada@example.com"})
    token = mailbox.token("reset")
    if case == "used_twice":
        assert (
            client.post(
                "/api/auth/password/reset", json={"token": token, "new_password": GOOD_PASSWORD}
            ).status_code
            == 200
        )
        expected = GOOD_PASSWORD
    else:
        expected = PASSWORD
    if case == "expired":
        expire_links(app, timedelta(seconds=1))
    elif case == "voided_by_newer":
        client.post("/api/auth/password/forgot", json={"email": "ada@example.com"})
        assert mailbox.token("reset") != token
    elif case == "voided_by_password_change":
        access = api.sign_in("ada")["access_token"]
        changed = client.post(
            "/api/auth/password",
            json={"current_password": PASSWORD, "new_password": GOOD_PASSWORD},
            headers=bearer(access),
        )
        assert changed.status_code == 200
        expected = GOOD_PASSWORD
    elif case == "verify_token_on_reset":
        assert api.register("bob").status_code == 201
        token = mailbox.token("verify", to="bob@example.com")
    elif case == "unknown":
        token = "A" * 43
    elif case == "wrong_length":
        token = token + "A"
    elif case == "address_changed":
        admin = make_user(role=Role.ADMIN)
        access = api.sign_in(admin.username)["access_token"]
        user = user_row(app, "ada")
        client.patch(f"/api/users/{user.id}", json={"email": "ada-new@example.com"}, headers=bearer(access))
    attempt = client.post("/api/auth/password/reset", json={"token": token, "new_password": NEW_PASSWORD})
    assert_error(attempt, 400, "invalid_link")
    assert attempt.get_json()["detail"] == "This link is invalid or has expired."
    assert password_works(app, "ada", expected) and not password_works(app, "ada", NEW_PASSWORD)
    if case == "verify_token_on_reset":  # nor was the verify token spent by the wrong endpoint
        assert client.post("/api/auth/email/verify", json={"token": token}).status_code == 200


def test_one_users_link_changes_nothing_of_another(api, client, mailbox, make_user, app):
    make_user(username="ada", email="ada@example.com")
    make_user(username="bob", email="bob@example.com")
    client.post("/api/auth/password/forgot", json={"email": "ada@example.com"})
    token = mailbox.token("reset", to="ada@example.com")
    assert (
        client.post(
            "/api/auth/password/reset", json={"token": token, "new_password": NEW_PASSWORD}
        ).status_code
        == 200
    )
    assert password_works(app, "bob", PASSWORD) and password_works(app, "ada", NEW_PASSWORD)


def test_links_are_built_from_the_public_url_never_the_host_header(make_app, make_user):
    app = make_app(public_url="https://auth.example.com")
    client, mailbox = app.test_client(), Mailbox(app)
    with app.app_context(), session_scope(get_engine(app)) as session:
        from authsvc.extensions import get_hasher
        from authsvc.services import users

        users.create_user(
            session=session, hasher=get_hasher(), username="ada", password=PASSWORD, email="ada@example.com"
        )
    response = client.post(
        "/api/auth/password/forgot",
        json={"email": "ada@example.com"},
        headers={
            "Host": "evil.example",
            "X-Forwarded-Host": "evil.example",
            "Forwarded": "host=evil.example",
        },
    )
    assert response.status_code == 202
    [message] = mailbox.deliver()
    raw = message.as_string()
    assert "evil.example" not in raw
    assert re.search(r"https://auth\.example\.com/demo#reset=[A-Za-z0-9_-]{43}", text_of(message))
    assert message["From"] == "no-reply@auth.example.com"


# --- email change -------------------------------------------------------------------------------


def test_email_change_confirms_the_new_address_and_tells_the_old(api, client, mailbox, make_user, app):
    make_user(username="ada", email="ada@example.com")
    access = api.sign_in("ada")["access_token"]
    asked = client.post(
        "/api/auth/email",
        json={"new_email": "Ada@New.example.com", "current_password": PASSWORD},
        headers=bearer(access),
    )
    assert asked.status_code == 202
    messages = {m["To"]: m for m in mailbox.deliver()}
    assert set(messages) == {"ada@new.example.com", "ada@example.com"}
    assert messages["ada@example.com"]["Subject"] == "A new address was requested for your account"
    assert "#" not in text_of(messages["ada@example.com"])  # the notice carries no link to act on
    assert api.whoami(access).get_json()["email"] == "ada@example.com"  # nothing changes yet
    token = mailbox.token("email", to="ada@new.example.com")
    confirmed = client.post("/api/auth/email/confirm", json={"token": token})
    assert confirmed.status_code == 200
    assert (
        confirmed.get_json()["email"] == "ada@new.example.com"
        and confirmed.get_json()["email_verified"] is True
    )
    assert_error(client.post("/api/auth/email/confirm", json={"token": token}), 400, "invalid_link")


def test_email_change_refusals(api, client, mailbox, make_user):
    make_user(username="ada", email="ada@example.com")
    make_user(username="bob", email="bob@example.com")
    access = api.sign_in("ada")["access_token"]

    def ask(new_email, password=PASSWORD):
        return client.post(
            "/api/auth/email",
            json={"new_email": new_email, "current_password": password},
            headers=bearer(access),
        )

    assert_error(ask("new@example.com", "wrong-password"), 401, "invalid_credentials")
    assert_error(ask("bob@example.com"), 409, "email_taken")
    assert_error(ask("ada@example.com"), 400, "validation_error")
    assert_error(
        client.post("/api/auth/email", json={"new_email": "x@example.com", "current_password": PASSWORD}),
        401,
        "missing_token",
    )
    assert mailbox.deliver() == []


def test_confirming_an_address_someone_took_meanwhile_is_409_and_leaves_the_link(
    api, client, mailbox, make_user
):
    make_user(username="ada", email="ada@example.com")
    access = api.sign_in("ada")["access_token"]
    client.post(
        "/api/auth/email",
        json={"new_email": "wanted@example.com", "current_password": PASSWORD},
        headers=bearer(access),
    )
    token = mailbox.token("email", to="wanted@example.com")
    assert api.register("carol", email="wanted@example.com").status_code == 201
    assert_error(client.post("/api/auth/email/confirm", json={"token": token}), 409, "email_taken")
    assert api.whoami(access).get_json()["email"] == "ada@example.com"


def test_confirming_an_email_change_voids_reset_and_verify_links(api, client, mailbox, make_user, app):
    verify = registered(api, mailbox, "ada")
    client.post("/api/auth/password/forgot", json={"email": "ada@example.com"})
    reset = mailbox.token("reset")
    access = api.sign_in("ada")["access_token"]
    client.post(
        "/api/auth/email",
        json={"new_email": "ada2@example.com", "current_password": PASSWORD},
        headers=bearer(access),
    )
    assert client.post("/api/auth/email/confirm", json={"token": mailbox.token("email")}).status_code == 200
    assert_error(
        client.post("/api/auth/password/reset", json={"token": reset, "new_password": NEW_PASSWORD}),
        400,
        "invalid_link",
    )
    assert_error(client.post("/api/auth/email/verify", json={"token": verify}), 400, "invalid_link")


# --- the outbox ---------------------------------------------------------------------------------


def test_a_refused_registration_leaves_no_message(api, mailbox, app):
    assert api.register("ada").status_code == 201
    assert api.register("ada2", email="ada@example.com").status_code == 409
    assert api.register("ADA", email="other@example.com").status_code == 409
    assert [m["To"] for m in mailbox.deliver()] == ["ada@example.com"]


def test_the_outbox_keeps_no_token_in_the_clear(api, app):
    assert api.register("ada").status_code == 201
    with app.app_context(), session_scope(get_engine(app)) as session:
        [row] = session.exec(select(OutboxMessage)).all()
        [link] = session.exec(select(OneTimeToken)).all()
    assert row.recipient == "ada@example.com" and row.kind == "verify"
    assert "verify=" not in row.sealed and "Confirm" not in row.sealed
    assert len(link.token_hash) == 64  # a SHA-256, never the token


def test_console_mail_logs_the_link_in_development_and_never_in_production(make_app, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="authsvc.mail")
    for environment in ("development", "production"):
        caplog.clear()
        app = make_app(environment=environment)
        Api(app.test_client()).register("ada")
        with app.app_context():
            get_mail(app).deliver()
        logged = "\n".join(record.getMessage() for record in caplog.records)
        if environment == "development":
            assert "#verify=" in logged and "to ada@example.com" in logged
        else:
            assert "#verify=" not in logged and "mail is off" in logged
            assert any(record.levelno == logging.ERROR for record in caplog.records)


# --- throttling and hostile input ---------------------------------------------------------------


def test_forgot_is_silently_throttled_per_address_and_429_per_ip(make_app, make_user):
    app = make_app(ratelimit_enabled=True, ratelimit_forgot_address="2/hour", ratelimit_forgot_ip="4/hour")
    client, mailbox = app.test_client(), Mailbox(app)
    from authsvc.extensions import get_hasher
    from authsvc.services import users

    with app.app_context(), session_scope(get_engine(app)) as session:
        users.create_user(
            session=session, hasher=get_hasher(), username="ada", password=PASSWORD, email="ada@example.com"
        )
    answers = [client.post("/api/auth/password/forgot", json={"email": "ada@example.com"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [202] * 4
    assert len(mailbox.deliver()) == 2  # the address's budget: the rest were answered alike, not sent
    assert_error(
        client.post("/api/auth/password/forgot", json={"email": "x@example.com"}), 429, "rate_limited"
    )


HOSTILE_TOKENS = [None, 1, 1.5, True, [], {}, "", "x" * 257, "\u0000" * 43, "é" * 43, "A" * 42, "<script>"]


@pytest.mark.parametrize(
    "path", ["/api/auth/email/verify", "/api/auth/email/confirm", "/api/auth/password/reset"]
)
@pytest.mark.parametrize("token", HOSTILE_TOKENS, ids=repr)
def test_hostile_tokens_get_a_clear_400(client, path, token):
    body = {"token": token, "new_password": NEW_PASSWORD}
    response = client.post(path, json=body)
    assert response.status_code == 400, response.data
    assert response.get_json()["code"] in {"invalid_link", "validation_error"}


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/auth/password/forgot", {"email": "not-an-address"}),
        ("/api/auth/password/forgot", {"email": None}),
        ("/api/auth/password/forgot", {"email": ["a@example.com"]}),
        ("/api/auth/password/forgot", {"email": "a@" + "x" * 400 + ".com"}),
        ("/api/auth/password/forgot", {}),
        ("/api/auth/email/verify/resend", {"email": 5}),
        ("/api/auth/password/reset", {"token": "A" * 43}),
        ("/api/auth/password/reset", {"token": "A" * 43, "new_password": "x" * 2000}),
    ],
)
def test_hostile_bodies_get_a_validation_error(client, path, body):
    assert_error(client.post(path, json=body), 400, "validation_error")


def test_non_json_bodies_are_refused(client):
    for path in ("/api/auth/password/forgot", "/api/auth/password/reset", "/api/auth/email/verify"):
        assert client.post(path, data="email=a@example.com").status_code == 415
        assert_error(client.post(path, data="{", content_type="application/json"), 400, "invalid_json")


def test_resend_sends_nothing_when_verification_is_off(make_app):
    app = make_app(email_verification="off")
    client, mailbox = app.test_client(), Mailbox(app)
    assert Api(client).register("ada").status_code == 201
    response = client.post("/api/auth/email/verify/resend", json={"email": "ada@example.com"})
    assert response.status_code == 202
    assert mailbox.deliver() == []
