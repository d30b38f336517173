"""docs/api.md (the compatibility contract): exact bodies, byte for byte."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from authsvc.config import Settings
from authsvc.models import Role
from tests.conftest import make_settings
from tests.helpers import BAD_LOGIN, BAD_REFRESH, BAD_TOKEN, MISSING_HEADER, PASSWORD, bearer

RECORD_KEYS = ["id", "username", "email", "role", "is_active", "created_at"]
PUBLIC_KEYS = ["id", "username", "created_at"]


@pytest.fixture
def settings(tmp_path, request):
    """conftest's settings, overridable per test with ``parametrize("settings", [...], indirect=True)``."""
    return make_settings(tmp_path, **getattr(request, "param", {}))


def obtain(client, username, password=PASSWORD):
    return client.post("/token/", json={"username": username, "password": password})


def listed(client, user):
    response = client.get("/list/", headers=bearer(obtain(client, user.username).get_json()["access"]))
    assert response.status_code == 200
    return response


def test_token_returns_exactly_refresh_then_access(client, make_user):
    user = make_user()
    response = obtain(client, user.username)
    assert response.status_code == 200
    body = json.loads(response.data)
    assert list(body) == ["refresh", "access"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("case", ["wrong_password", "unknown_user", "deactivated"])
def test_token_failures_share_one_exact_body(client, make_user, case):
    user = make_user(is_active=case != "deactivated")
    username = "nobody-here" if case == "unknown_user" else user.username
    password = "wrong-password-1" if case == "wrong_password" else PASSWORD
    response = obtain(client, username, password)
    assert response.status_code == 401
    assert response.data == BAD_LOGIN


def test_list_returns_every_user_by_id(client, make_user):
    first, second, third = make_user(), make_user(), make_user(role=Role.ADMIN)
    for viewer in (second, third):
        body = listed(client, viewer).get_json()
        assert [u["id"] for u in body] == [first.id, second.id, third.id]


def test_list_shows_a_non_admin_only_the_public_part_of_each_record(client, make_user):
    """Anyone who can register must not harvest every user's email and role (issue 11, item 2)."""
    admin, viewer = make_user(role=Role.ADMIN, email="root@example.com"), make_user()
    response = listed(client, viewer)
    public = json.loads(response.data)
    assert [list(record) for record in public] == [PUBLIC_KEYS, PUBLIC_KEYS]
    assert b"root@example.com" not in response.data
    assert b'"role"' not in response.data
    whole = listed(client, admin).get_json()
    assert public == [{key: record[key] for key in PUBLIC_KEYS} for record in whole]


def test_list_shows_an_admin_whole_records(client, make_user):
    admin = make_user(role=Role.ADMIN)
    make_user(email="other@example.com")
    body = json.loads(listed(client, admin).data)
    assert [list(record) for record in body] == [RECORD_KEYS, RECORD_KEYS]
    assert body[1]["email"] == "other@example.com"
    assert body[1]["role"] == "user"


@pytest.mark.parametrize("settings", [{"list_full_records": True}], indirect=True)
def test_list_full_records_setting_shows_everyone_whole_records(client, make_user):
    """``FLASK_LIST_FULL_RECORDS=true``: the old behaviour, for clients that depend on it."""
    make_user(role=Role.ADMIN)
    viewer = make_user()
    body = json.loads(listed(client, viewer).data)
    assert [list(record) for record in body] == [RECORD_KEYS, RECORD_KEYS]


def test_list_without_header(client):
    response = client.get("/list/")
    assert response.status_code == 401
    assert response.data == MISSING_HEADER


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer " + "A" * 10_000,
        "Bearer x y",
    ],
)
def test_list_with_bad_authorization(client, header):
    response = client.get("/list/", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.data == BAD_TOKEN


def test_list_rejects_refresh_token(client, make_user):
    user = make_user()
    refresh = obtain(client, user.username).get_json()["refresh"]
    response = client.get("/list/", headers=bearer(refresh))
    assert response.data == BAD_TOKEN


def test_scheme_is_case_insensitive(client, make_user):
    user = make_user()
    access = obtain(client, user.username).get_json()["access"]
    for scheme in ("bearer", "BEARER", "BeArEr"):
        assert client.get("/list/", headers={"Authorization": f"{scheme} {access}"}).status_code == 200


def test_refresh_rotates(client, make_user):
    user = make_user()
    pair = obtain(client, user.username).get_json()
    response = client.post("/token/refresh/", json={"refresh": pair["refresh"]})
    assert response.status_code == 200
    rotated = json.loads(response.data)
    assert list(rotated) == ["access", "refresh"]
    assert rotated["refresh"] != pair["refresh"]
    assert client.get("/list/", headers=bearer(rotated["access"])).status_code == 200


def test_refresh_reuse_is_refused_and_revokes_the_family(client, make_user):
    user = make_user()
    pair = obtain(client, user.username).get_json()
    rotated = client.post("/token/refresh/", json={"refresh": pair["refresh"]}).get_json()
    reuse = client.post("/token/refresh/", json={"refresh": pair["refresh"]})
    assert reuse.status_code == 401
    assert reuse.data == BAD_REFRESH
    # the thief's copy and the legitimate child are both dead now
    assert client.post("/token/refresh/", json={"refresh": rotated["refresh"]}).data == BAD_REFRESH
    assert client.get("/list/", headers=bearer(rotated["access"])).data == BAD_TOKEN
    assert client.get("/list/", headers=bearer(pair["access"])).data == BAD_TOKEN


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_refresh_with_bad_token(client, token):
    response = client.post("/token/refresh/", json={"refresh": token})
    assert response.status_code == 401
    assert response.data == BAD_REFRESH


def test_refresh_refuses_access_token(client, make_user):
    user = make_user()
    access = obtain(client, user.username).get_json()["access"]
    assert client.post("/token/refresh/", json={"refresh": access}).data == BAD_REFRESH


# --- FLASK_COMPAT_ENDPOINTS=false -------------------------------------------------------------------

OFF = {"compat_endpoints": False}
COMPAT_PATHS = ["/token/", "/token/refresh/", "/list/"]


def switched_off_requests(client, make_user):
    """Requests that would succeed (or be redirected, or be told another method) with the endpoints on."""
    user = make_user()
    access = client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD}).get_json()
    creds = {"username": user.username, "password": PASSWORD}
    return {
        "token": lambda: client.post("/token/", json=creds),
        "token-refresh": lambda: client.post("/token/refresh/", json={"refresh": access["refresh_token"]}),
        "list": lambda: client.get("/list/", headers=bearer(access["access_token"])),
        "list-no-header": lambda: client.get("/list/"),
        "token-get": lambda: client.get("/token/"),
        "token-no-slash": lambda: client.post("/token", json=creds),
        "list-no-slash": lambda: client.get("/list", headers=bearer(access["access_token"])),
        "token-form": lambda: client.post("/token/", data="username=x&password=y"),
        "list-options": lambda: client.options("/list/"),
    }


@pytest.mark.parametrize("settings", [OFF], indirect=True)
def test_compat_endpoints_switched_off_answer_404_in_the_api_error_shape(client, make_user):
    for name, send in switched_off_requests(client, make_user).items():
        response = send()
        assert response.status_code == 404, (name, response.status_code, response.data)
        assert response.get_json() == {"detail": "The requested URL was not found.", "code": "not_found"}, (
            name
        )


@pytest.mark.parametrize("settings", [OFF], indirect=True)
def test_compat_endpoints_switched_off_leave_the_api_working(client, make_user):
    user = make_user()
    tokens = client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD})
    assert tokens.status_code == 200
    assert (
        client.get("/api/auth/whoami", headers=bearer(tokens.get_json()["access_token"])).status_code == 200
    )


@pytest.mark.parametrize("settings", [OFF], indirect=True)
def test_compat_endpoints_switched_off_are_not_in_the_openapi_document(client):
    spec = client.get("/openapi.json").get_json()
    validate(spec, cls=OpenAPIV31SpecValidator)
    assert [path for path in spec["paths"] if path in COMPAT_PATHS] == []
    assert "compat" not in [tag["name"] for tag in spec.get("tags", [])]
    assert "/api/auth/login" in spec["paths"]


def test_compat_endpoints_are_on_by_default(client):
    spec = client.get("/openapi.json").get_json()
    assert [path for path in spec["paths"] if path in COMPAT_PATHS] == COMPAT_PATHS
    assert client.get("/list/").data == MISSING_HEADER


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("true", True)])
def test_compat_endpoints_setting_parses(value, expected):
    assert Settings.from_env({"FLASK_COMPAT_ENDPOINTS": value}).compat_endpoints is expected
