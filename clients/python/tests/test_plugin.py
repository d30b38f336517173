"""The pytest plugin as another project uses it, and its promise to cost nothing when unused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from authsvc_client.pytest_plugin import AuthsvcUser
from authsvc_client.testing import AuthsvcServer


# The README's example, as a downstream project writes it.
def test_downstream_example(authsvc_server: AuthsvcServer, authsvc_user: Callable[..., AuthsvcUser]) -> None:
    ada = authsvc_user()
    me = ada.client.get("/api/auth/whoami")
    assert me.status_code == 200
    assert me.json()["username"] == ada.username
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
