"""The pytest plugin as another project uses it, and its promise to cost nothing when unused."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from flask import Flask, g

from authsvc_client import TokenVerifier
from authsvc_client.flask import init_app, require_token
from authsvc_client.pytest_plugin import AuthsvcUser
from authsvc_client.testing import AuthsvcServer


# The README's example, word for word, as a downstream project writes it (hence no type hints).
def test_orders_need_a_token(authsvc_server, authsvc_user):
    app = Flask("orders")  # in a real project: your app, with require_token on its views
    app.get("/orders")(require_token()(lambda: {"user": g.token_claims.sub}))
    ada = authsvc_user()  # registered and signed in: ada.client is an httpx.Client with AuthsvcAuth
    assert ada.client.get("/api/auth/whoami").json()["username"] == ada.username
    with TokenVerifier(authsvc_server.jwks_url, authsvc_server.issuer, authsvc_server.audience) as verifier:
        init_app(app, verifier)
        answer = app.test_client().get(
            "/orders", headers={"Authorization": f"Bearer {ada.auth.access_token}"}
        )
        assert answer.json == {"user": str(ada.id)}
        assert app.test_client().get("/orders").status_code == 401


def test_admins_are_made_through_the_api(authsvc_user: Callable[..., AuthsvcUser]) -> None:
    admin = authsvc_user(admin=True)
    assert admin.client.get("/api/users/all").json()["total"] >= 2


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    """pytest loads the plugin in every suite of the environment, the server's own included."""
    heavy = ("httpx", "jwt", "flask", "authsvc", "authsvc_client.testing")
    probe = f"import sys, authsvc_client.pytest_plugin; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_server_runs_under_the_session_settings(authsvc_server: AuthsvcServer) -> None:
    assert authsvc_server.env["FLASK_JWT_KEYS_RELOAD_INTERVAL"] == "1"  # conftest.py's override
    assert authsvc_server.env["FLASK_JWT_ALGORITHM"] == "ES256"
    assert authsvc_server.hits("/health") >= 1
    if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        assert authsvc_server.env["FLASK_DATABASE_URL"].startswith("postgresql")
    else:
        assert authsvc_server.env["FLASK_DATABASE_URL"].startswith("sqlite:///")
