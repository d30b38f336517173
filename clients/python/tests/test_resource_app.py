"""A small resource server (another team's Flask app) protected by require_token, tested the way
that team would: Flask's test client for their app, real tokens from the plugin's authsvc."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from authsvc_client import Authsvc, TokenVerifier
from authsvc_client.flask import init_app, require_token
from authsvc_client.pytest_plugin import AuthsvcUser
from authsvc_client.testing import AuthsvcServer, free_port


def orders_app(verifier: TokenVerifier, introspecting: TokenVerifier) -> Flask:
    app = Flask("orders")
    init_app(app, verifier, realm="orders")

    @app.get("/orders")
    @require_token()
    def orders() -> dict[str, object]:
        return {"user_id": g.token_claims.user_id, "session": g.token_claims.sid}

    @app.get("/admin/orders")
    @require_token(roles="admin", verifier=introspecting)  # roles come from introspection
    def all_orders() -> dict[str, object]:
        return {"role": g.token_claims.role, "username": g.token_claims.username}

    return app


@pytest.fixture
def client(verifier: TokenVerifier, introspecting: TokenVerifier) -> FlaskClient:
    return orders_app(verifier, introspecting).test_client()


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_live_token_reaches_the_view_with_its_claims_on_g(
    client: FlaskClient, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    ada = authsvc_user()
    answer = client.get("/orders", headers=bearer(ada.auth.access_token))
    assert answer.status_code == 200
    assert answer.json == {"user_id": ada.id, "session": ada.auth.session_id}


@pytest.mark.parametrize(
    ("headers", "code", "challenge"),
    [
        ({}, "missing_token", 'Bearer realm="orders"'),
        ({"Authorization": "Basic YTpi"}, "missing_token", 'Bearer realm="orders"'),
        (
            {"Authorization": "Bearer not.a.token"},
            "invalid_token",
            'Bearer realm="orders", error="invalid_token"',
        ),
    ],
    ids=["no-header", "another-scheme", "garbage"],
)
def test_refusals_use_the_error_shape_and_a_bearer_challenge(
    client: FlaskClient, headers: dict[str, str], code: str, challenge: str
) -> None:
    answer = client.get("/orders", headers=headers)
    assert answer.status_code == 401
    assert answer.json == {"detail": answer.json["detail"], "code": code}
    assert answer.headers["WWW-Authenticate"] == challenge


def test_a_refresh_token_is_no_access_token(
    client: FlaskClient, authsvc_server: AuthsvcServer, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    ada = authsvc_user()
    with Authsvc(authsvc_server.base_url) as api:
        pair = api.login(ada.username, ada.password)
    assert client.get("/orders", headers=bearer(pair.refresh_token)).json["code"] == "invalid_token"


def test_roles_are_checked_against_authsvcs_answer(
    client: FlaskClient, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    user, admin = authsvc_user(), authsvc_user(admin=True)
    refused = client.get("/admin/orders", headers=bearer(user.auth.access_token))
    assert refused.status_code == 403
    assert refused.json["code"] == "forbidden"
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="orders", error="insufficient_scope"'
    allowed = client.get("/admin/orders", headers=bearer(admin.auth.access_token))
    assert allowed.status_code == 200
    assert allowed.json == {"role": "admin", "username": admin.username}


def test_a_signed_out_token_is_refused_at_once_with_introspection(
    client: FlaskClient, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    admin = authsvc_user(admin=True)
    token = admin.auth.access_token
    admin.auth.logout()  # before the verifier ever asked: nothing cached
    assert client.get("/admin/orders", headers=bearer(token)).status_code == 401


def test_roles_without_introspection_is_a_configuration_error(verifier: TokenVerifier) -> None:
    with pytest.raises(RuntimeError, match="introspection"):
        require_token(roles=["admin"], verifier=verifier)


def test_unreachable_keys_answer_503(authsvc_user: Callable[..., AuthsvcUser]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"  # nothing listens there
    with TokenVerifier(nowhere, "authsvc", "authsvc") as unreachable:
        app = Flask("orders")
        init_app(app, unreachable)
        app.get("/orders")(require_token()(lambda: {"ok": True}))
        answer = app.test_client().get("/orders", headers=bearer(authsvc_user().auth.access_token))
    assert answer.status_code == 503
    assert answer.json["code"] == "auth_unavailable"


@pytest.fixture
def bare_app() -> Iterator[Flask]:
    app = Flask("bare")
    app.get("/x")(require_token()(lambda: {"ok": True}))
    yield app


def test_require_token_without_a_verifier_says_what_to_do(bare_app: Flask) -> None:
    bare_app.testing = True
    with pytest.raises(RuntimeError, match="init_app"):
        bare_app.test_client().get("/x", headers=bearer("x"))
