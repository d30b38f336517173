"""Issue 10, item 13d: every JSON answer is ``Cache-Control: no-store``, not only the token ones.

User records, lists, sessions and errors are personal; a shared cache (or the browser's back button
on a shared machine) must not keep them. Static assets of /docs and /demo stay cacheable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, Response

from authsvc.api.headers import secure_headers
from tests.conftest import unique_name
from tests.helpers import PASSWORD, bearer

World = dict[str, Any]


@pytest.fixture
def header_world(client, make_user, admin_tokens, user_tokens) -> World:
    admin, admin_body = admin_tokens
    user, user_body = user_tokens
    return {
        "admin": bearer(admin_body["access_token"]),
        "user": bearer(user_body["access_token"]),
        "id": user.id,
    }


def new_account() -> dict[str, str]:
    name = unique_name("cache")
    return {"username": name, "email": f"{name}@example.com", "password": PASSWORD}


def register_twice(client, world: World) -> Any:
    body = new_account()
    assert client.post("/api/auth/register", json=body).status_code == 201
    return client.post("/api/auth/register", json=body)


Request = Callable[[Any, World], Any]
CASES: list[tuple[str, int, Request]] = [
    ("whoami", 200, lambda c, w: c.get("/api/auth/whoami", headers=w["user"])),
    ("compat-list", 200, lambda c, w: c.get("/list/", headers=w["user"])),
    ("compat-list-admin", 200, lambda c, w: c.get("/list/", headers=w["admin"])),
    ("users-all", 200, lambda c, w: c.get("/api/users/all?page=1&per_page=5", headers=w["admin"])),
    ("users-by-id", 200, lambda c, w: c.get(f"/api/users/{w['id']}", headers=w["user"])),
    ("sessions", 200, lambda c, w: c.get("/api/auth/sessions", headers=w["user"])),
    ("register", 201, lambda c, w: c.post("/api/auth/register", json=new_account())),
    ("logout", 200, lambda c, w: c.post("/api/auth/logout", headers=w["user"])),
    ("index", 200, lambda c, w: c.get("/")),
    ("health", 200, lambda c, w: c.get("/health")),
    ("error-compat-missing-header", 401, lambda c, w: c.get("/list/")),
    ("error-missing-token", 401, lambda c, w: c.get("/api/auth/whoami")),
    ("error-forbidden", 403, lambda c, w: c.get("/api/users/all", headers=w["user"])),
    ("error-not-found", 404, lambda c, w: c.get("/no/such/path")),
    ("error-user-not-found", 404, lambda c, w: c.get("/api/users/999999", headers=w["admin"])),
    ("error-method-not-allowed", 405, lambda c, w: c.delete("/api/auth/whoami")),
    ("error-validation", 400, lambda c, w: c.post("/api/auth/register", json={"username": ""})),
    ("error-username-taken", 409, register_twice),
    ("error-media-type", 415, lambda c, w: c.post("/api/auth/register", data="x")),
    (
        "error-wrong-password",
        401,
        lambda c, w: c.post("/token/", json={"username": "x", "password": "y" * 8}),
    ),
]


@pytest.mark.parametrize(("status", "send"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_json_response_is_not_cacheable(client, header_world, status, send):
    response = send(client, header_world)
    assert response.status_code == status, response.data
    assert response.is_json
    assert response.headers.get("Cache-Control") == "no-store"


def test_a_response_that_chooses_its_own_cache_control_keeps_it(app: Flask):
    """The JWKS style: public keys may be cached, and say so themselves."""
    with app.test_request_context("/"):
        response = Response("{}", mimetype="application/json")
        response.headers["Cache-Control"] = "public, max-age=600"
        assert secure_headers(response).headers["Cache-Control"] == "public, max-age=600"


@pytest.mark.parametrize(
    "path",
    [
        "/static/demo.js",
        "/static/demo.css",
        "/docs/assets/css/swagger-ui.css",
        "/docs/assets/js/swagger-ui-bundle.js",
    ],
)
def test_static_assets_stay_cacheable(client, path):
    with client.get(path) as response:  # a file response: close it
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", "")
