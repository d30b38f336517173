"""docs/api.md, ``/api/users``: the admin listing and single user records."""

from __future__ import annotations

import math

import pytest
from sqlmodel import Session

from authsvc.db import get_engine
from authsvc.models import Role, User
from authsvc.services import queries
from tests.conftest import assert_error, login
from tests.helpers import RECORD_KEYS, bearer

PAGE_KEYS = {"items", "page", "per_page", "total", "pages"}


def page(client, token, query=""):
    return client.get(f"/api/users/all{query}", headers=bearer(token))


def set_role(app, user_id, role):
    with Session(get_engine(app)) as session:
        user = session.get(User, user_id)
        user.role = role.value
        session.add(user)
        session.commit()


# --- /api/users/all ---------------------------------------------------------------------------------


def test_page_defaults(client, admin_tokens):
    admin, tokens = admin_tokens
    response = page(client, tokens["access_token"])
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == PAGE_KEYS
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 5, 1, 1)
    assert [item["id"] for item in body["items"]] == [admin.id]  # the admin is a user too
    assert list(body["items"][0]) == RECORD_KEYS
    assert body["items"][0]["role"] == "admin"
    assert b"password" not in response.data and b"$2" not in response.data


def test_page_default_size_is_five(client, make_user, admin_tokens):
    for _ in range(6):
        make_user()
    body = page(client, admin_tokens[1]["access_token"]).get_json()
    assert len(body["items"]) == 5
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 5, 7, 2)


@pytest.mark.parametrize(
    ("per_page", "extra_users"), [(1, 0), (2, 4), (3, 6), (5, 4), (5, 5), (7, 2), (100, 3)]
)
def test_pages_walk_every_user_in_id_order(client, make_user, admin_tokens, per_page, extra_users):
    admin, tokens = admin_tokens
    expected = [admin.id] + [make_user().id for _ in range(extra_users)]
    total = len(expected)
    pages = math.ceil(total / per_page)
    seen = []
    for number in range(1, pages + 1):
        body = page(client, tokens["access_token"], f"?page={number}&per_page={per_page}").get_json()
        assert (body["page"], body["per_page"], body["total"], body["pages"]) == (
            number,
            per_page,
            total,
            pages,
        )
        assert 1 <= len(body["items"]) <= per_page
        seen += [item["id"] for item in body["items"]]
    assert seen == sorted(expected)


def test_ordering_is_by_id_not_by_name(client, make_user, admin_tokens):
    admin, tokens = admin_tokens
    ids = [make_user(name).id for name in ("zed", "Mike", "alpha", "Bravo")]
    body = page(client, tokens["access_token"], "?per_page=100").get_json()
    assert [item["id"] for item in body["items"]] == sorted([admin.id, *ids])


def test_pages_is_zero_when_nothing_matches(app):
    """Over HTTP the admin asking is always a user (total >= 1), so the empty case is checked below it."""
    items, total, pages = queries.page_users(engine=get_engine(app), page=1, per_page=5)
    assert (list(items), total, pages) == ([], 0, 0)


@pytest.mark.parametrize("number", [2, 3, 1000])
def test_page_past_the_end_is_empty(client, admin_tokens, number):
    response = page(client, admin_tokens[1]["access_token"], f"?page={number}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["items"] == []
    assert (body["page"], body["total"], body["pages"]) == (number, 1, 1)


def test_per_page_100_is_allowed(client, admin_tokens):
    body = page(client, admin_tokens[1]["access_token"], "?per_page=100").get_json()
    assert body["per_page"] == 100


def test_unknown_query_parameters_are_ignored(client, admin_tokens):
    response = page(client, admin_tokens[1]["access_token"], "?colour=blue&page=1")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?per_page=101", "per_page"),
        ("?per_page=1000000", "per_page"),
        ("?page=0", "page"),
        ("?per_page=0", "per_page"),
        ("?page=-1", "page"),
        ("?per_page=-5", "per_page"),
        ("?page=abc", "page"),
        ("?per_page=abc", "per_page"),
        ("?per_page=1.5", "per_page"),
        ("?page=2.0e0", "page"),
        ("?page=", "page"),
        ("?page=1%00", "page"),
        ("?page=99999999999999999999999999", "page"),
    ],
)
def test_bad_paging_is_a_validation_error(client, admin_tokens, query, field):
    response = page(client, admin_tokens[1]["access_token"], query)
    assert_error(response, 400, "validation_error")
    locs = [item["loc"] for item in response.get_json()["errors"]]
    assert ["query", field] in locs


def test_page_is_for_admins_only(client, user_tokens):
    assert_error(page(client, user_tokens[1]["access_token"]), 403, "forbidden")


def test_page_without_a_token(client):
    response = client.get("/api/users/all")
    assert_error(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer"])
def test_page_with_a_bad_token(client, header):
    assert_error(client.get("/api/users/all", headers={"Authorization": header}), 401, "invalid_token")


def test_page_refuses_an_admin_refresh_token(client, admin_tokens):
    assert_error(page(client, admin_tokens[1]["refresh_token"]), 401, "invalid_token")


# --- /api/users/<id> --------------------------------------------------------------------------------


def test_admin_sees_anyone(client, make_user, admin_tokens):
    other = make_user()
    response = client.get(f"/api/users/{other.id}", headers=bearer(admin_tokens[1]["access_token"]))
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == RECORD_KEYS
    assert (body["id"], body["username"], body["email"], body["role"]) == (
        other.id,
        other.username,
        other.email,
        "user",
    )


def test_admin_sees_a_deactivated_user(client, make_user, admin_tokens):
    other = make_user(is_active=False)
    response = client.get(f"/api/users/{other.id}", headers=bearer(admin_tokens[1]["access_token"]))
    assert response.status_code == 200
    assert response.get_json()["is_active"] is False


def test_user_sees_self(client, user_tokens):
    user, tokens = user_tokens
    response = client.get(f"/api/users/{user.id}", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert (
        response.get_json()
        == client.get("/api/auth/whoami", headers=bearer(tokens["access_token"])).get_json()
    )


def test_someone_else_looks_missing_to_a_user(client, make_user, user_tokens):
    _, tokens = user_tokens
    other = make_user()
    someone_else = client.get(f"/api/users/{other.id}", headers=bearer(tokens["access_token"]))
    missing = client.get("/api/users/999999", headers=bearer(tokens["access_token"]))
    assert_error(someone_else, 404, "not_found")
    assert_error(missing, 404, "not_found")
    assert someone_else.data == missing.data  # ids cannot be probed


@pytest.mark.parametrize("user_id", ["999999", "0"])
def test_admin_asking_for_a_missing_id(client, admin_tokens, user_id):
    response = client.get(f"/api/users/{user_id}", headers=bearer(admin_tokens[1]["access_token"]))
    assert_error(response, 404, "not_found")


def test_user_record_without_a_token(client, make_user):
    user = make_user()
    assert_error(client.get(f"/api/users/{user.id}"), 401, "missing_token")


def test_user_record_with_a_refresh_token(client, user_tokens):
    user, tokens = user_tokens
    assert_error(
        client.get(f"/api/users/{user.id}", headers=bearer(tokens["refresh_token"])), 401, "invalid_token"
    )


# --- roles are read from the database ---------------------------------------------------------------


def test_promotion_in_the_database_takes_effect_at_once(app, client, make_user, user_tokens):
    user, tokens = user_tokens
    other = make_user()
    assert_error(page(client, tokens["access_token"]), 403, "forbidden")
    set_role(app, user.id, Role.ADMIN)
    # the same access token, no new sign-in
    assert page(client, tokens["access_token"]).status_code == 200
    assert client.get(f"/api/users/{other.id}", headers=bearer(tokens["access_token"])).status_code == 200
    assert (
        client.get("/api/auth/whoami", headers=bearer(tokens["access_token"])).get_json()["role"] == "admin"
    )


def test_demotion_in_the_database_takes_effect_at_once(app, client, make_user, admin_tokens):
    admin, tokens = admin_tokens
    other = make_user()
    assert page(client, tokens["access_token"]).status_code == 200
    set_role(app, admin.id, Role.USER)
    assert_error(page(client, tokens["access_token"]), 403, "forbidden")
    assert_error(
        client.get(f"/api/users/{other.id}", headers=bearer(tokens["access_token"])), 404, "not_found"
    )
    assert client.get(f"/api/users/{admin.id}", headers=bearer(tokens["access_token"])).status_code == 200


def test_an_admin_token_dies_with_its_admin(app, client, admin_tokens):
    admin, tokens = admin_tokens
    with Session(get_engine(app)) as session:
        session.get(User, admin.id).is_active = False
        session.commit()
    assert_error(page(client, tokens["access_token"]), 401, "invalid_token")


def test_admin_logout_closes_the_listing(client, admin_tokens):
    _, tokens = admin_tokens
    assert client.post("/api/auth/logout", headers=bearer(tokens["access_token"])).status_code == 200
    assert_error(page(client, tokens["access_token"]), 401, "invalid_token")
    fresh = login(client, admin_tokens[0].username)
    assert page(client, fresh["access_token"]).status_code == 200
