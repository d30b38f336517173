"""``POST /api/auth/introspect`` (RFC 7662, API.md section 5): service clients ask whether a token is live.

Live means exactly what authsvc itself would honour: an access token whoami accepts, a refresh token
a refresh would rotate. Every other token gets ``{"active": false}`` alone, and the caller must be a
service client authenticated by HTTP Basic.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from authsvc.db import get_engine
from authsvc.models import Role, ServiceClient, User, utcnow
from authsvc.security import client_secret_hash
from authsvc.services import clients
from tests.conftest import assert_error
from tests.helpers import GOOD_PASSWORD, PASSWORD, Api, basic, bearer

URL = "/api/auth/introspect"
INACTIVE = {"active": False}
KEYS = ["active", "token_type", "sub", "username", "role", "sid", "jti", "iat", "exp", "iss", "aud"]


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def introspect(client: FlaskClient, credentials: Any, **request: Any) -> Any:
    return client.post(URL, headers=basic(credentials.client_id, credentials.client_secret), **request)


def assert_no_store(response: Any) -> None:
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


# --- live tokens ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_a_live_token_is_described_in_full(api, make_user, service_client, kind):
    user = make_user(role=Role.ADMIN)
    token = api.sign_in(user.username)[f"{kind}_token"]
    response = api.introspect(token, service_client)
    assert response.status_code == 200
    assert_no_store(response)
    body = response.get_json()
    claims = claims_of(token)
    assert list(body) == KEYS  # section 5's keys, in its order
    assert body == {
        "active": True,
        "token_type": kind,
        "sub": str(user.id),
        "username": user.username,
        "role": "admin",
        "sid": claims["sid"],
        "jti": claims["jti"],
        "iat": claims["iat"],
        "exp": claims["exp"],
        "iss": "authsvc",
        "aud": "authsvc",
    }


def test_json_body_answers_as_the_form_does(client, api, user_tokens, service_client):
    _, tokens = user_tokens
    form = api.introspect(tokens["access_token"], service_client)
    as_json = introspect(client, service_client, json={"token": tokens["access_token"]})
    assert as_json.status_code == form.status_code == 200
    assert as_json.get_json() == form.get_json()
    assert as_json.get_json()["active"] is True


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded; charset=utf-8", "application/json; charset=utf-8"]
)
def test_media_types_with_a_charset_are_accepted(client, user_tokens, service_client, content_type):
    _, tokens = user_tokens
    token = tokens["access_token"]
    data = f"token={token}" if "form" in content_type else json.dumps({"token": token})
    response = introspect(client, service_client, data=data, content_type=content_type)
    assert response.status_code == 200 and response.get_json()["active"] is True


@pytest.mark.parametrize("kind", ["access", "refresh"])
@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "access", "refresh", "saml", ""])
def test_the_hint_is_only_a_hint(api, user_tokens, service_client, kind, hint):
    """RFC 7662 section 2.1: a wrong or unknown hint still finds the token."""
    _, tokens = user_tokens
    body = api.introspect(tokens[f"{kind}_token"], service_client, hint=hint).get_json()
    assert body["active"] is True and body["token_type"] == kind


def test_asking_about_a_refresh_token_does_not_spend_it(api, user_tokens, service_client):
    _, tokens = user_tokens
    for _ in range(3):
        assert api.is_active(tokens["refresh_token"], service_client)
    rotated = api.refresh(tokens["refresh_token"])
    assert rotated.status_code == 200
    assert api.is_active(rotated.get_json()["refresh_token"], service_client)


# --- tokens that are no longer live ---------------------------------------------------------------------


def both_dead(api: Api, tokens: dict[str, Any], credentials: Any) -> bool:
    return not api.is_active(tokens["access_token"], credentials) and not api.is_active(
        tokens["refresh_token"], credentials
    )


def both_live(api: Api, tokens: dict[str, Any], credentials: Any) -> bool:
    return api.is_active(tokens["access_token"], credentials) and api.is_active(
        tokens["refresh_token"], credentials
    )


def test_logout_local_ends_this_session_only(api, make_user, service_client):
    user = make_user()
    this, other = api.sign_in(user.username), api.sign_in(user.username)
    assert api.logout(this["access_token"], "local").status_code == 200
    assert both_dead(api, this, service_client)
    assert both_live(api, other, service_client)


def test_logout_global_ends_every_session(api, make_user, service_client):
    user = make_user()
    this, other = api.sign_in(user.username), api.sign_in(user.username)
    assert api.logout(this["access_token"], "global").status_code == 200
    assert both_dead(api, this, service_client)
    assert both_dead(api, other, service_client)


def test_logout_others_ends_every_other_session(api, make_user, service_client):
    user = make_user()
    this, other = api.sign_in(user.username), api.sign_in(user.username)
    assert api.logout(this["access_token"], "others").status_code == 200
    assert both_live(api, this, service_client)
    assert both_dead(api, other, service_client)


def test_ending_one_session_by_id(client, api, make_user, service_client):
    user = make_user()
    this, other = api.sign_in(user.username), api.sign_in(user.username)
    sid = claims_of(other["access_token"])["sid"]
    response = client.delete(f"/api/auth/sessions/{sid}", headers=bearer(this["access_token"]))
    assert response.status_code == 204
    assert both_dead(api, other, service_client)
    assert both_live(api, this, service_client)


def test_a_spent_refresh_token_is_inactive_and_its_child_is_live(api, user_tokens, service_client):
    _, tokens = user_tokens
    child = api.refresh(tokens["refresh_token"]).get_json()
    assert not api.is_active(tokens["refresh_token"], service_client)
    assert both_live(api, child, service_client)
    assert api.is_active(tokens["access_token"], service_client)  # access tokens live until they expire


def test_a_spent_refresh_token_is_inactive_even_within_the_reuse_interval(make_app, make_user):
    """Within ``FLASK_JWT_REFRESH_REUSE_INTERVAL`` a spent token still gets its child pair back, but it
    is not the session's live refresh token: introspection says so."""
    app = make_app(jwt_refresh_reuse_interval=60)
    api = Api(app.test_client())
    api.register("tabs")
    tokens = api.sign_in("tabs")
    with app.app_context(), Session(get_engine(app)) as session:
        credentials = clients.create(session=session, name="tabs-svc")
    child = api.refresh(tokens["refresh_token"]).get_json()
    assert api.refresh(tokens["refresh_token"]).get_json() == child  # the grace interval's answer
    assert not api.is_active(tokens["refresh_token"], credentials)
    assert api.is_active(child["refresh_token"], credentials)


def test_reuse_detection_kills_the_whole_family(api, user_tokens, service_client):
    _, tokens = user_tokens
    child = api.refresh(tokens["refresh_token"]).get_json()
    assert api.refresh(tokens["refresh_token"]).status_code == 401  # the replay: theft assumed
    assert both_dead(api, child, service_client)
    assert both_dead(api, tokens, service_client)


def test_deactivation_ends_every_token(client, api, make_user, admin_tokens, service_client):
    _, admin = admin_tokens
    user = make_user()
    tokens = api.sign_in(user.username)
    response = client.patch(
        f"/api/users/{user.id}", json={"is_active": False}, headers=bearer(admin["access_token"])
    )
    assert response.status_code == 200
    assert both_dead(api, tokens, service_client)


def test_deletion_ends_every_token(client, api, make_user, service_client):
    user = make_user()
    tokens = api.sign_in(user.username)
    response = client.delete(
        f"/api/users/{user.id}", json={"current_password": PASSWORD}, headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 204
    assert both_dead(api, tokens, service_client)


def test_a_password_change_ends_every_earlier_token(client, api, make_user, service_client):
    user = make_user()
    tokens, other = api.sign_in(user.username), api.sign_in(user.username)
    response = client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": GOOD_PASSWORD},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 200
    assert both_dead(api, tokens, service_client)
    assert both_dead(api, other, service_client)
    assert both_live(api, response.get_json(), service_client)


def _set_user(app: Flask, user_id: int, **values: Any) -> None:
    """Change the user's row only: nothing is revoked, so introspection's own checks are what is tested."""
    with Session(get_engine(app)) as session:
        row = session.get(User, user_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        session.commit()


def test_an_inactive_user_is_checked_not_only_the_blocklist(app, api, user_tokens, service_client):
    user, tokens = user_tokens
    _set_user(app, user.id, is_active=False)
    assert both_dead(api, tokens, service_client)


def test_an_older_credentials_version_is_checked_not_only_the_blocklist(
    app, api, user_tokens, service_client
):
    user, tokens = user_tokens
    _set_user(app, user.id, credentials_version=user.credentials_version + 1)
    assert both_dead(api, tokens, service_client)


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_an_expired_token_is_inactive(api, make_user, service_client, monkeypatch, kind):
    """Minted one lifetime and a minute ago (the clock patched while signing in), checked on the real one."""
    user = make_user()
    lifetime = timedelta(seconds=900) if kind == "access" else timedelta(days=14)
    long_ago = utcnow() - lifetime - timedelta(minutes=1)
    monkeypatch.setattr("authsvc.services.sessions.utcnow", lambda: long_ago)
    expired = api.sign_in(user.username)
    monkeypatch.undo()
    assert not api.is_active(expired[f"{kind}_token"], service_client)
    assert api.is_active(api.sign_in(user.username)[f"{kind}_token"], service_client)


def forged(token: str, *, secret: str, **changes: Any) -> str:
    claims = claims_of(token) | changes
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_forged_tokens_are_inactive(app, api, user_tokens, admin_tokens, service_client, kind):
    _, tokens = user_tokens
    admin, _ = admin_tokens
    token = tokens[f"{kind}_token"]
    ours = app.extensions["authsvc.codec"].secret
    header, payload, signature = token.split(".")
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    forgeries = {
        "another-secret": forged(token, secret="another-service-secret-0123456789abcdef"),
        "sub-to-admin-original-signature": ".".join(
            (header, forged(token, secret=ours, sub=str(admin.id)).split(".")[1], signature)
        ),
        "alg-none": f"{unsigned}.{payload}.",
        "signature-stripped": f"{header}.{payload}.",
        "wrong-audience": forged(token, secret=ours, aud="another-service"),
        "wrong-issuer": forged(token, secret=ours, iss="evil"),
    }
    for name, forgery in forgeries.items():
        assert not api.is_active(forgery, service_client), name
    assert api.is_active(forged(token, secret=ours), service_client)  # control: re-signed untouched


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage"),
        pytest.param("a.b.c", id="three-garbage-segments"),
        pytest.param("eyJ\x00.eyJ.sig", id="nul"),
        pytest.param("x" * 100_000, id="100k-characters"),
        pytest.param("null", id="null-literal"),
    ],
)
def test_garbage_is_inactive(api, service_client, token):
    response = api.introspect(token, service_client)
    assert response.status_code == 200
    assert response.get_json() == INACTIVE


def test_an_over_long_but_validly_signed_token_is_inactive(app, api, user_tokens, service_client):
    _, tokens = user_tokens
    padded = forged(tokens["access_token"], secret=app.extensions["authsvc.codec"].secret, pad="x" * 5000)
    assert not api.is_active(padded, service_client)


def test_a_token_that_is_not_text_is_inactive(client, user_tokens, service_client):
    _, tokens = user_tokens
    for token in (tokens["access_token"] + "\ud800", "\udc80"):
        response = introspect(client, service_client, json={"token": token})
        assert response.status_code == 200 and response.get_json() == INACTIVE
    raw = b'{"token": "' + tokens["access_token"].encode() + b'\xed\xa0\x80"}'  # a surrogate's bytes
    response = introspect(client, service_client, data=raw, content_type="application/json")
    assert response.status_code == 200 and response.get_json() == INACTIVE


def test_form_bytes_that_are_not_utf8_are_inactive(client, service_client):
    response = introspect(
        client, service_client, data=b"token=%ED%A0%80%FF", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and response.get_json() == INACTIVE


# --- malformed requests ---------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        pytest.param({"json": {}}, 400, "invalid_request", id="json-without-token"),
        pytest.param({"data": {"other": "x"}}, 400, "invalid_request", id="form-without-token"),
        pytest.param({"data": "", "content_type": FORM}, 400, "invalid_request", id="empty-form"),
        pytest.param({"json": {"token_type_hint": "access_token"}}, 400, "invalid_request", id="hint-only"),
        pytest.param({"json": {"token": ["a"]}}, 400, "invalid_request", id="token-as-array"),
        pytest.param({"json": {"token": {"$ne": None}}}, 400, "invalid_request", id="token-as-object"),
        pytest.param({"json": {"token": 12345}}, 400, "invalid_request", id="token-as-number"),
        pytest.param({"json": {"token": None}}, 400, "invalid_request", id="token-null"),
        pytest.param(
            {"json": {"token": "x", "token_type_hint": ["a"]}}, 400, "invalid_request", id="hint-array"
        ),
        pytest.param({"json": [{"token": "x"}]}, 400, "invalid_request", id="json-array-body"),
        pytest.param({"json": "x"}, 400, "invalid_request", id="json-string-body"),
        pytest.param(
            {"data": "token=a&token=b", "content_type": FORM}, 400, "invalid_request", id="form-token-twice"
        ),
        pytest.param(
            {"data": '{"token": "', "content_type": "application/json"},
            400,
            "invalid_json",
            id="json-truncated",
        ),
        pytest.param(
            {"data": "token=x", "content_type": "text/plain"}, 415, "unsupported_media_type", id="text"
        ),
        pytest.param(
            {"data": {"token": "x"}, "content_type": "multipart/form-data"},
            415,
            "unsupported_media_type",
            id="multipart",
        ),
        pytest.param({"data": "token=x"}, 415, "unsupported_media_type", id="no-content-type"),
        pytest.param(
            {"data": b"t" * (1024 * 1024 + 1), "content_type": FORM}, 413, "payload_too_large", id="over-1mib"
        ),
    ],
)
def test_malformed_requests(client, service_client, request_kwargs, status, code):
    response = introspect(client, service_client, **request_kwargs)
    assert_error(response, status, code)
    assert_no_store(response)


def test_get_is_not_allowed(client, service_client):
    assert_error(
        client.get(URL, headers=basic(service_client.client_id, service_client.client_secret)),
        405,
        "method_not_allowed",
    )


# --- client authentication ------------------------------------------------------------------------------


def encoded(text: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text).decode()}


def refusals(service_client: Any, other: Any) -> dict[str, dict[str, str]]:
    cid, secret = service_client.client_id, service_client.client_secret
    return {
        "missing-header": {},
        "wrong-secret": basic(cid, secret[:-1] + ("A" if secret[-1] != "A" else "B")),
        "secret-of-another-client": basic(cid, other.client_secret),
        "unknown-client-id": basic("no-such-client-id-000000", secret),
        "empty-id-and-secret": basic("", ""),
        "empty-secret": basic(cid, ""),
        "bearer-scheme": bearer(secret),
        "bearer-with-live-credentials": {
            "Authorization": "Bearer " + basic(cid, secret)["Authorization"][6:]
        },
        "scheme-only": {"Authorization": "Basic"},
        "bad-base64": {"Authorization": "Basic !!!not-base64!!!"},
        "base64-without-padding": {
            "Authorization": "Basic " + base64.b64encode(f"{cid}:{secret}x".encode()).decode().rstrip("=")
        },
        "no-colon": encoded(f"{cid}{secret}".encode()),
        "not-utf8": encoded(cid.encode() + b":\xff\xfe" + secret.encode()),
        "surrogate-bytes": encoded(cid.encode() + b":\xed\xa0\x80"),
        "bad-percent-encoding": encoded(f"{cid}:%FF{secret}".encode()),
        "nul-in-id": encoded(f"{cid}\x00:{secret}".encode()),
        "two-spaces-inside": {"Authorization": "Basic a b"},
        "huge-header": {"Authorization": "Basic " + "A" * 100_000},
        "lone-surrogate-header": {"Authorization": "Basic \udc80"},
    }


REFUSALS = list(refusals(clients.NewClient("", "x", "x"), clients.NewClient("", "y", "y")))


@pytest.mark.parametrize("attack", REFUSALS)
def test_client_authentication_is_refused(client, user_tokens, make_service_client, attack):
    _, tokens = user_tokens
    mine, other = make_service_client(), make_service_client()
    headers = refusals(mine, other)[attack]
    response = client.post(URL, data={"token": tokens["access_token"]}, headers=headers)
    body = assert_error(response, 401, "invalid_client")
    assert body == {"detail": "Client authentication failed.", "code": "invalid_client"}  # one answer for all
    assert response.headers["WWW-Authenticate"] == 'Basic realm="authsvc", charset="UTF-8"'
    assert_no_store(response)
    assert mine.client_secret.encode() not in response.data


def test_an_unauthenticated_caller_learns_nothing_about_its_body(client):
    """The client is checked first: a malformed body without credentials is a 401, not a 400 or 415."""
    for request_kwargs in (
        {"json": {}},
        {"data": "x", "content_type": "text/plain"},
        {"json": {"token": "x"}},
    ):
        assert_error(client.post(URL, **request_kwargs), 401, "invalid_client")


def test_form_urlencoded_credentials_are_decoded(api, user_tokens, service_client):
    """RFC 6749 section 2.3.1: the id and secret are form-urlencoded before the Basic encoding, so a
    client that percent-encodes every character must still get in."""
    _, tokens = user_tokens
    every_char = "".join(f"%{byte:02X}" for byte in service_client.client_secret.encode())
    pair = f"{service_client.client_id}:{every_char}".encode()
    response = api.client.post(URL, data={"token": tokens["access_token"]}, headers=encoded(pair))
    assert response.status_code == 200 and response.get_json()["active"] is True


def test_the_scheme_name_is_case_insensitive(client, user_tokens, service_client):
    _, tokens = user_tokens
    value = basic(service_client.client_id, service_client.client_secret)["Authorization"]
    response = client.post(
        URL, data={"token": tokens["access_token"]}, headers={"Authorization": "bAsIc" + value[5:]}
    )
    assert response.status_code == 200


def test_a_deleted_client_is_refused_at_once(app, api, user_tokens, service_client):
    _, tokens = user_tokens
    assert api.is_active(tokens["access_token"], service_client)
    with app.app_context(), Session(get_engine(app)) as session:
        clients.delete(session=session, name=service_client.name)
    assert_error(api.introspect(tokens["access_token"], service_client), 401, "invalid_client")


def test_the_secret_is_stored_only_as_its_hash(app, service_client):
    with Session(get_engine(app)) as session:
        row = session.exec(select(ServiceClient).where(ServiceClient.name == service_client.name)).one()
    assert row.client_id == service_client.client_id
    assert row.secret_hash == client_secret_hash(service_client.client_secret)
    assert service_client.client_secret not in row.secret_hash


def test_an_unknown_client_costs_what_a_wrong_secret_costs(app, service_client, monkeypatch):
    """Both hash the presented secret once and compare once, in constant time; neither says which."""
    work: list[str] = []
    real_hash, real_compare = clients.client_secret_hash, clients.compare_digest
    monkeypatch.setattr(clients, "client_secret_hash", lambda s: work.append("hash") or real_hash(s))
    monkeypatch.setattr(clients, "compare_digest", lambda a, b: work.append("compare") or real_compare(a, b))
    outcomes = []
    for client_id in (service_client.client_id, "unknown-client-id-00000"):
        work.clear()
        with Session(get_engine(app)) as session, pytest.raises(clients.InvalidClient) as refused:
            clients.authenticate(session=session, client_id=client_id, client_secret="wrong-secret")
        outcomes.append((tuple(work), str(refused.value)))
    assert outcomes[0] == outcomes[1] == (("hash", "compare"), "Client authentication failed.")


def test_a_refused_client_is_audited_without_its_secret(client, service_client, caplog):
    caplog.set_level(logging.INFO, logger="authsvc.audit")
    client.post(URL, data={"token": "x"}, headers=basic(service_client.client_id, "wrong-but-secret-ish"))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "authsvc.audit"]
    assert [(line["event"], line["outcome"], line["client_name"]) for line in lines] == [
        ("client_auth", "failure", service_client.name)
    ]
    assert "wrong-but-secret-ish" not in caplog.text


# --- throttling -----------------------------------------------------------------------------------------


def throttled_world(make_app: Any, **limits: Any) -> tuple[Api, list[clients.NewClient], str]:
    app = make_app(ratelimit_enabled=True, **limits)
    api = Api(app.test_client())
    api.register("owner")
    token = api.sign_in("owner")["access_token"]
    with app.app_context(), Session(get_engine(app)) as session:
        made = [clients.create(session=session, name=name) for name in ("svc-a", "svc-b")]
    return api, made, token


def test_each_client_has_its_own_budget(make_app):
    api, (first, second), token = throttled_world(make_app, ratelimit_introspect="3/minute")
    assert [api.introspect(token, first).status_code for _ in range(3)] == [200] * 3
    refused = api.introspect(token, first)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    assert api.introspect(token, second).status_code == 200  # the same address, another client


def test_wrong_credentials_are_throttled_per_address(make_app):
    api, (client_a, client_b), token = throttled_world(make_app, ratelimit_login_ip="3/minute")
    wrong = clients.NewClient(client_a.name, client_a.client_id, "not-the-secret")
    statuses = [
        api.client.post(
            URL,
            data={"token": token},
            headers=basic(wrong.client_id, wrong.client_secret),
            environ_base={"REMOTE_ADDR": "203.0.113.5"},
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [401] * 3
    right = basic(client_b.client_id, client_b.client_secret)
    from_there = api.client.post(
        URL, data={"token": token}, headers=right, environ_base={"REMOTE_ADDR": "203.0.113.5"}
    )
    assert_error(from_there, 429, "rate_limited")  # guessing from that address is over, whatever the client
    from_elsewhere = api.client.post(
        URL, data={"token": token}, headers=right, environ_base={"REMOTE_ADDR": "203.0.113.6"}
    )
    assert from_elsewhere.status_code == 200


def test_successful_client_logins_do_not_spend_the_address_budget(make_app):
    api, (first, _), token = throttled_world(make_app, ratelimit_login_ip="3/minute")
    assert [api.introspect(token, first).status_code for _ in range(10)] == [200] * 10


def test_an_unknown_clients_guesses_do_not_spend_a_real_clients_budget(make_app):
    """Only an authenticated client's calls count against its budget, so nobody can exhaust it by
    sending its (public) client_id with wrong secrets."""
    api, (first, _), token = throttled_world(
        make_app, ratelimit_introspect="3/minute", ratelimit_login_ip="100/minute"
    )
    for n in range(5):
        api.client.post(
            URL,
            data={"token": token},
            headers=basic(first.client_id, "wrong"),
            environ_base={"REMOTE_ADDR": f"203.0.113.{n + 10}"},
        )
    assert [api.introspect(token, first).status_code for _ in range(3)] == [200] * 3
