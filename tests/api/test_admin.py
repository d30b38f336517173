"""Issue 3, account administration: PATCH/DELETE /api/users/<id>, listing filters, set-role, deactivate."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from authsvc.db import get_engine
from authsvc.models import AuthSession, Role, User, utcnow
from tests.conftest import assert_error, login
from tests.helpers import BAD_LOGIN, BAD_REFRESH, BAD_TOKEN, PASSWORD, RECORD_KEYS, bearer


def patch(client, token, user_id, body):
    return client.patch(f"/api/users/{user_id}", json=body, headers=bearer(token))


def delete(client, token, user_id, password=PASSWORD):
    """Deleting one's own account asks for the current password; an admin deleting another ignores it."""
    return client.delete(f"/api/users/{user_id}", headers=bearer(token), json={"current_password": password})


def record(client, token, user_id):
    return client.get(f"/api/users/{user_id}", headers=bearer(token))


def page(client, token, query=""):
    return client.get(f"/api/users/all{query}", headers=bearer(token))


def sign_in_fails(client, username, password=PASSWORD):
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert_error(response, 401, "invalid_credentials")
    assert client.post("/token/", json={"username": username, "password": password}).data == BAD_LOGIN


def assert_tokens_dead(client, tokens):
    """A dead session: both halves refused on both APIs, the compat bodies byte for byte."""
    assert client.get("/list/", headers=bearer(tokens["access_token"])).data == BAD_TOKEN
    assert_error(client.get("/api/auth/whoami", headers=bearer(tokens["access_token"])), 401, "invalid_token")
    assert_error(
        client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])), 401, "invalid_token"
    )
    assert client.post("/token/refresh/", json={"refresh": tokens["refresh_token"]}).data == BAD_REFRESH


def is_admin_now(client, tokens):
    """Whether the admin listing answers this token: the role as the service sees it on this request."""
    status = page(client, tokens["access_token"]).status_code
    assert status in (200, 403)
    return status == 200


def stored(app, user_id):
    with Session(get_engine(app)) as session:
        return session.get(User, user_id)


# --- PATCH /api/users/<id>: role --------------------------------------------------------------------


def test_promotion_returns_the_record_and_applies_on_the_next_request(client, make_user, admin_tokens):
    _, admin = admin_tokens
    user = make_user()
    tokens = login(client, user.username)
    assert not is_admin_now(client, tokens)
    response = patch(client, admin["access_token"], user.id, {"role": "admin"})
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert list(body) == RECORD_KEYS
    assert (body["id"], body["username"], body["role"], body["is_active"]) == (
        user.id,
        user.username,
        "admin",
        True,
    )
    assert is_admin_now(client, tokens)
    assert record(client, admin["access_token"], user.id).get_json()["role"] == "admin"


def test_demotion_applies_on_the_next_request(client, make_user, admin_tokens):
    _, admin = admin_tokens
    other = make_user(role=Role.ADMIN)
    tokens = login(client, other.username)
    assert is_admin_now(client, tokens)
    response = patch(client, admin["access_token"], other.id, {"role": "user"})
    assert response.status_code == 200
    assert response.get_json()["role"] == "user"
    assert not is_admin_now(client, tokens)
    assert_error(patch(client, tokens["access_token"], other.id, {"role": "admin"}), 403, "forbidden")


# --- PATCH /api/users/<id>: activation --------------------------------------------------------------


def test_deactivation_revokes_every_session_at_once(client, make_user, admin_tokens):
    _, admin = admin_tokens
    user, bystander = make_user(), make_user()
    sessions = [login(client, user.username) for _ in range(2)]
    unrelated = login(client, bystander.username)
    response = patch(client, admin["access_token"], user.id, {"is_active": False})
    assert response.status_code == 200
    assert response.get_json()["is_active"] is False
    # still-unexpired access tokens: the section 1 body, byte for byte
    for tokens in sessions:
        response = client.get("/list/", headers=bearer(tokens["access_token"]))
        assert response.status_code == 401
        assert response.data == BAD_TOKEN
    for tokens in sessions:
        assert_tokens_dead(client, tokens)
    sign_in_fails(client, user.username)
    assert client.get("/list/", headers=bearer(unrelated["access_token"])).status_code == 200


def test_reactivation_does_not_revive_old_sessions(client, make_user, admin_tokens):
    _, admin = admin_tokens
    user = make_user()
    old = login(client, user.username)
    assert patch(client, admin["access_token"], user.id, {"is_active": False}).status_code == 200
    response = patch(client, admin["access_token"], user.id, {"is_active": True})
    assert response.status_code == 200
    assert response.get_json()["is_active"] is True
    assert_tokens_dead(client, old)
    fresh = login(client, user.username)
    assert client.get("/list/", headers=bearer(fresh["access_token"])).status_code == 200


def test_deactivating_a_deactivated_user_is_harmless(client, make_user, admin_tokens):
    _, admin = admin_tokens
    user = make_user(is_active=False)
    response = patch(client, admin["access_token"], user.id, {"is_active": False})
    assert response.status_code == 200
    assert response.get_json()["is_active"] is False


# --- PATCH /api/users/<id>: email and body rules ----------------------------------------------------


def test_email_change_is_stored_lower_case(app, client, make_user, admin_tokens):
    _, admin = admin_tokens
    user = make_user()
    response = patch(client, admin["access_token"], user.id, {"email": "  New.Address@Example.COM "})
    assert response.status_code == 200, response.data
    assert response.get_json()["email"] == "new.address@example.com"
    assert stored(app, user.id).email == "new.address@example.com"
    # keeping one's own address is not a clash
    assert (
        patch(client, admin["access_token"], user.id, {"email": "new.address@example.com"}).status_code == 200
    )


@pytest.mark.parametrize("spelling", ["exact", "upper"])
def test_email_taken_by_someone_else_is_409(app, client, make_user, admin_tokens, spelling):
    _, admin = admin_tokens
    user = make_user(email="mine@example.com")
    make_user(email="taken@example.com")
    email = "taken@example.com" if spelling == "exact" else "TAKEN@Example.com"
    assert_error(patch(client, admin["access_token"], user.id, {"email": email}), 409, "email_taken")
    assert stored(app, user.id).email == "mine@example.com"


def test_email_taken_refuses_the_whole_change(app, client, make_user, admin_tokens):
    _, admin = admin_tokens
    user = make_user()
    other = make_user()
    body = {"email": other.email, "role": "admin"}
    assert_error(patch(client, admin["access_token"], user.id, body), 409, "email_taken")
    assert stored(app, user.id).role == "user"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"is_active": "yes"}, "is_active"),
        ({"is_active": "true"}, "is_active"),
        ({"is_active": 1}, "is_active"),
        ({"is_active": 0}, "is_active"),
        ({"role": "superuser"}, "role"),
        ({"role": "ADMIN"}, "role"),
        ({"role": 1}, "role"),
        ({"role": True}, "role"),
        ({"email": "not-an-email"}, "email"),
        ({"email": 42}, "email"),
        ({"email": ["a@example.com"]}, "email"),
    ],
)
def test_patch_body_types_are_strict(app, client, make_user, admin_tokens, body, field):
    _, admin = admin_tokens
    user = make_user()
    response = patch(client, admin["access_token"], user.id, body)
    error = assert_error(response, 400, "validation_error")
    assert ["body", field] in [item["loc"] for item in error["errors"]]
    after = stored(app, user.id)
    assert (after.role, after.is_active, after.email) == ("user", True, user.email)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"role": None, "is_active": None, "email": None},
        {"id": 999, "username": "renamed", "password": "another-passphrase", "created_at": "2000-01-01"},
    ],
)
def test_patch_without_changes_keeps_the_record(client, make_user, admin_tokens, body):
    _, admin = admin_tokens
    user = make_user()
    before = record(client, admin["access_token"], user.id).get_json()
    response = patch(client, admin["access_token"], user.id, body)
    assert response.status_code == 200, response.data
    assert response.get_json() == before
    login(client, user.username)


def test_patch_is_for_admins_only(client, make_user, user_tokens):
    user, tokens = user_tokens
    other = make_user()
    for target, body in [(other.id, {"is_active": False}), (user.id, {"role": "admin"})]:
        assert_error(patch(client, tokens["access_token"], target, body), 403, "forbidden")
    assert not is_admin_now(client, tokens)
    login(client, other.username)


def test_patch_needs_a_live_access_token(client, make_user, admin_tokens):
    _, admin = admin_tokens
    user = make_user()
    assert_error(client.patch(f"/api/users/{user.id}", json={"role": "admin"}), 401, "missing_token")
    assert_error(patch(client, admin["refresh_token"], user.id, {"role": "admin"}), 401, "invalid_token")


@pytest.mark.parametrize("user_id", [999_999, 0])
def test_patch_a_missing_user_is_404(client, admin_tokens, user_id):
    _, admin = admin_tokens
    assert_error(patch(client, admin["access_token"], user_id, {"role": "admin"}), 404, "not_found")


# --- DELETE /api/users/<id> -------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["admin", "self"])
def test_delete_removes_the_account_and_its_tokens(app, client, make_user, admin_tokens, by):
    _, admin = admin_tokens
    user, bystander = make_user(), make_user()
    sessions = [login(client, user.username) for _ in range(2)]
    unrelated = login(client, bystander.username)
    actor = admin["access_token"] if by == "admin" else sessions[0]["access_token"]
    response = delete(client, actor, user.id)
    assert response.status_code == 204
    assert response.data == b""
    assert stored(app, user.id) is None
    with Session(get_engine(app)) as session:
        assert session.exec(select(AuthSession).where(AuthSession.user_id == user.id)).all() == []
    for tokens in sessions:
        assert_tokens_dead(client, tokens)
    sign_in_fails(client, user.username)
    assert_error(record(client, admin["access_token"], user.id), 404, "not_found")
    assert_error(delete(client, admin["access_token"], user.id), 404, "not_found")
    listed = client.get("/list/", headers=bearer(unrelated["access_token"])).get_json()
    assert user.id not in [item["id"] for item in listed]


def test_a_deleted_users_name_and_email_are_free_again(client, make_user, admin_tokens):
    _, admin = admin_tokens
    user = make_user()
    old = login(client, user.username)
    assert delete(client, admin["access_token"], user.id).status_code == 204
    body = {"username": user.username, "email": user.email, "password": PASSWORD}
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.data
    assert response.get_json()["id"] != user.id
    # the new account with the old name does not bring the old tokens back
    assert_tokens_dead(client, old)
    login(client, user.username)


def test_a_user_deleting_someone_else_gets_404(app, client, make_user, user_tokens):
    _, tokens = user_tokens
    other = make_user()
    assert_error(delete(client, tokens["access_token"], other.id), 404, "not_found")
    assert_error(delete(client, tokens["access_token"], 999_999), 404, "not_found")
    assert stored(app, other.id) is not None
    login(client, other.username)


def test_delete_needs_a_live_access_token(app, client, user_tokens):
    user, tokens = user_tokens
    assert_error(client.delete(f"/api/users/{user.id}"), 401, "missing_token")
    assert_error(delete(client, tokens["refresh_token"], user.id), 401, "invalid_token")
    assert stored(app, user.id) is not None


# --- the last active admin --------------------------------------------------------------------------

ACTIONS = {
    "demote": lambda client, token, user_id: patch(client, token, user_id, {"role": "user"}),
    "deactivate": lambda client, token, user_id: patch(client, token, user_id, {"is_active": False}),
    "demote_and_deactivate": lambda client, token, user_id: patch(
        client, token, user_id, {"role": "user", "is_active": False}
    ),
    "delete": delete,
}


@pytest.mark.parametrize("other_admin", ["none", "deactivated_admin", "plain_user"])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_last_active_admin_cannot_remove_itself(
    app, client, make_user, admin_tokens, action, other_admin
):
    admin_user, admin = admin_tokens
    if other_admin == "deactivated_admin":
        make_user(role=Role.ADMIN, is_active=False)
    elif other_admin == "plain_user":
        make_user()
    assert_error(ACTIONS[action](client, admin["access_token"], admin_user.id), 409, "last_admin")
    after = stored(app, admin_user.id)
    assert (after.role, after.is_active) == ("admin", True)
    assert is_admin_now(client, admin)


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_admin_can_remove_itself_when_another_active_admin_exists(
    app, client, make_user, admin_tokens, action
):
    admin_user, admin = admin_tokens
    other = make_user(role=Role.ADMIN)
    response = ACTIONS[action](client, admin["access_token"], admin_user.id)
    assert response.status_code in (200, 204), response.data
    after = stored(app, admin_user.id)
    if action == "delete":
        assert after is None
    else:
        assert after.role == ("user" if "demote" in action else "admin")
        assert after.is_active is ("deactivate" not in action)
    if action == "demote":
        assert not is_admin_now(client, admin)
    else:
        assert_tokens_dead(client, admin)
    # the remaining admin is now the last one and is protected in turn
    other_tokens = login(client, other.username)
    assert_error(ACTIONS[action](client, other_tokens["access_token"], other.id), 409, "last_admin")


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_admin_can_remove_another_admin(app, client, make_user, admin_tokens, action):
    _, admin = admin_tokens
    other = make_user(role=Role.ADMIN)
    response = ACTIONS[action](client, admin["access_token"], other.id)
    assert response.status_code in (200, 204), response.data
    assert is_admin_now(client, admin)


@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_deactivated_admin_is_not_protected(app, client, make_user, admin_tokens, action):
    _, admin = admin_tokens
    dormant = make_user(role=Role.ADMIN, is_active=False)
    response = ACTIONS[action](client, admin["access_token"], dormant.id)
    assert response.status_code in (200, 204), response.data


@pytest.mark.parametrize("body", [{"role": "admin"}, {"is_active": True}, {"email": "boss@example.com"}])
def test_changes_that_keep_the_last_admin_an_admin_are_allowed(client, admin_tokens, body):
    admin_user, admin = admin_tokens
    response = patch(client, admin["access_token"], admin_user.id, body)
    assert response.status_code == 200, response.data
    assert (response.get_json()["role"], response.get_json()["is_active"]) == ("admin", True)


# --- GET /api/users/all: filters, search, sort, X-Total-Count --------------------------------------


@pytest.fixture
def directory(app, make_user, admin_tokens):
    """A known set of users: name -> User, the calling admin included as "boss"."""
    admin_user, _ = admin_tokens
    people = {
        "boss": admin_user,
        "quokka-one": make_user("quokka-one", email="q1@zoo.test"),
        "quokka_two": make_user("quokka_two", email="q2@zoo.test", is_active=False),
        "wombat": make_user("wombat", email="has-quokka@zoo.test"),
        "koala": make_user("koala", email="k@bush.test", role=Role.ADMIN),
        "emu": make_user("emu", email="e@bush.test", role=Role.ADMIN, is_active=False),
        "dingo": make_user("dingo", email="d@bush.test"),
    }
    return people


def names_in(response, people):
    by_id = {user.id: name for name, user in people.items()}
    return [by_id[item["id"]] for item in response.get_json()["items"]]


def in_id_order(people, names):
    return sorted(names, key=lambda name: people[name].id)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=quokka", {"quokka-one", "quokka_two", "wombat"}),
        ("q=zoo.test", {"quokka-one", "quokka_two", "wombat"}),
        ("q=ngo", {"dingo"}),
        ("q=bush.test", {"koala", "emu", "dingo"}),
        ("q=_", {"quokka_two"}),
        ("q=%25", set()),
        ("q=nothing-like-this", set()),
        ("role=admin", {"boss", "koala", "emu"}),
        ("role=user", {"quokka-one", "quokka_two", "wombat", "dingo"}),
        ("is_active=false", {"quokka_two", "emu"}),
        ("is_active=true", {"boss", "quokka-one", "wombat", "koala", "dingo"}),
        ("role=admin&is_active=true", {"boss", "koala"}),
        ("q=quokka&is_active=true", {"quokka-one", "wombat"}),
        ("q=bush&role=admin&is_active=false", {"emu"}),
    ],
)
def test_listing_filters(client, admin_tokens, directory, query, expected):
    _, admin = admin_tokens
    response = page(client, admin["access_token"], f"?per_page=100&{query}")
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert names_in(response, directory) == in_id_order(directory, expected)
    assert body["total"] == len(expected)
    assert response.headers["X-Total-Count"] == str(len(expected))


@pytest.mark.parametrize("q", ["%00", "la%00x"], ids=["nul", "nul-inside"])
def test_listing_search_with_a_nul_matches_nobody(client, admin_tokens, directory, q):
    _, admin = admin_tokens
    response = page(client, admin["access_token"], f"?q={q}&per_page=100")
    assert response.status_code in (200, 400), response.data
    if response.status_code == 400:
        assert_error(response, 400, "validation_error")
    else:
        assert response.get_json()["items"] == []
        assert response.headers["X-Total-Count"] == "0"


def test_total_count_is_the_filtered_total_on_every_page(client, admin_tokens, directory):
    _, admin = admin_tokens
    expected = in_id_order(directory, ["quokka-one", "quokka_two", "wombat"])
    seen = []
    for number in (1, 2, 3):
        response = page(client, admin["access_token"], f"?q=quokka&per_page=2&page={number}")
        body = response.get_json()
        assert response.headers["X-Total-Count"] == "3"
        assert (body["total"], body["pages"], body["page"], body["per_page"]) == (3, 2, number, 2)
        seen += names_in(response, directory)
    assert seen == expected


def test_total_count_without_filters(client, admin_tokens, directory):
    _, admin = admin_tokens
    response = page(client, admin["access_token"])
    assert response.headers["X-Total-Count"] == str(len(directory))
    assert response.get_json()["total"] == len(directory)
    assert len(response.get_json()["items"]) == 5


def set_created_at(app, changes):
    with Session(get_engine(app)) as session:
        for user_id, when in changes.items():
            user = session.get(User, user_id)
            user.created_at = when
            session.add(user)
        session.commit()


def walk(client, token, query, per_page):
    items, number = [], 1
    while True:
        body = page(client, token, f"?{query}&per_page={per_page}&page={number}").get_json()
        if not body["items"]:
            return items
        items += body["items"]
        number += 1


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "username", "id"])
def test_listing_sort_orders_are_stable_across_pages(app, client, admin_tokens, directory, sort):
    _, admin = admin_tokens
    # created_at out of id order, with ties, so the order must be decided by more than one column
    base = utcnow() - timedelta(days=1)
    offsets = {"boss": 3, "quokka-one": 1, "quokka_two": 5, "wombat": 1, "koala": 0, "emu": 5, "dingo": 1}
    set_created_at(app, {directory[name].id: base + timedelta(hours=h) for name, h in offsets.items()})
    everyone = page(client, admin["access_token"], f"?sort={sort}&per_page=100")
    assert everyone.status_code == 200, everyone.data
    full = everyone.get_json()["items"]
    assert len(full) == len(directory)
    assert page(client, admin["access_token"], f"?sort={sort}&per_page=100").get_json()["items"] == full
    for per_page in (1, 2, 3):
        assert walk(client, admin["access_token"], f"sort={sort}", per_page) == full
    created = [datetime.fromisoformat(item["created_at"]) for item in full]
    if sort == "created_at":
        assert created == sorted(created)
    elif sort == "-created_at":
        assert created == sorted(created, reverse=True)
    elif sort == "username":
        assert [item["username"] for item in full] == sorted(item["username"] for item in full)
    else:
        assert [item["id"] for item in full] == sorted(item["id"] for item in full)


def test_listing_sort_combines_with_filters(client, admin_tokens, directory):
    _, admin = admin_tokens
    response = page(client, admin["access_token"], "?q=quokka&sort=username&per_page=100")
    assert names_in(response, directory) == ["quokka-one", "quokka_two", "wombat"]
    assert response.headers["X-Total-Count"] == "3"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=name", "sort"),
        ("sort=-username", "sort"),
        ("role=root", "role"),
        ("is_active=maybe", "is_active"),
    ],
)
def test_listing_refuses_bad_filters(client, admin_tokens, query, field):
    _, admin = admin_tokens
    body = assert_error(page(client, admin["access_token"], f"?{query}"), 400, "validation_error")
    assert ["query", field] in [item["loc"] for item in body["errors"]]


def test_listing_filters_are_for_admins_only(client, user_tokens):
    _, tokens = user_tokens
    assert_error(page(client, tokens["access_token"], "?q=user&role=user"), 403, "forbidden")


# --- flask set-role / flask deactivate --------------------------------------------------------------


def test_cli_set_role_promotes_and_demotes(client, cli, make_user):
    user = make_user()
    tokens = login(client, user.username)
    result = cli("set-role", user.username, "admin")
    assert result.exit_code == 0, result.output
    assert user.username in result.output
    assert is_admin_now(client, tokens)
    make_user(role=Role.ADMIN)  # so the user is not the last admin
    result = cli("set-role", user.username, "user")
    assert result.exit_code == 0, result.output
    assert not is_admin_now(client, tokens)


def test_cli_set_role_finds_the_user_regardless_of_case(app, cli, make_user):
    user = make_user("CamelCase")
    result = cli("set-role", "camelcase", "admin")
    assert result.exit_code == 0, result.output
    assert stored(app, user.id).role == "admin"


def test_cli_deactivate_revokes_every_session(app, client, cli, make_user):
    user, bystander = make_user(), make_user()
    sessions = [login(client, user.username) for _ in range(2)]
    unrelated = login(client, bystander.username)
    result = cli("deactivate", user.username)
    assert result.exit_code == 0, result.output
    assert stored(app, user.id).is_active is False
    for tokens in sessions:
        assert_tokens_dead(client, tokens)
    sign_in_fails(client, user.username)
    assert client.get("/list/", headers=bearer(unrelated["access_token"])).status_code == 200


@pytest.mark.parametrize(
    "args",
    [["set-role", "{name}", "user"], ["deactivate", "{name}"]],
    ids=["set-role", "deactivate"],
)
@pytest.mark.parametrize("other_admin", ["none", "deactivated_admin"])
def test_cli_refuses_to_remove_the_last_active_admin(app, client, cli, make_user, args, other_admin):
    admin_user = make_user(role=Role.ADMIN)
    if other_admin == "deactivated_admin":
        make_user(role=Role.ADMIN, is_active=False)
    tokens = login(client, admin_user.username)
    result = cli(*[arg.format(name=admin_user.username) for arg in args])
    assert result.exit_code != 0
    assert "admin" in result.output.lower()
    after = stored(app, admin_user.id)
    assert (after.role, after.is_active) == ("admin", True)
    assert is_admin_now(client, tokens)


@pytest.mark.parametrize("args", [["set-role", "{name}", "user"], ["deactivate", "{name}"]])
def test_cli_removes_an_admin_when_another_active_admin_exists(app, cli, make_user, args):
    admin_user = make_user(role=Role.ADMIN)
    make_user(role=Role.ADMIN)
    result = cli(*[arg.format(name=admin_user.username) for arg in args])
    assert result.exit_code == 0, result.output
    after = stored(app, admin_user.id)
    assert (after.role, after.is_active) == (("user", True) if args[0] == "set-role" else ("admin", False))


@pytest.mark.parametrize("args", [["set-role", "nobody-here", "admin"], ["deactivate", "nobody-here"]])
def test_cli_unknown_user(cli, args):
    result = cli(*args)
    assert result.exit_code != 0
    assert "nobody-here" in result.output


@pytest.mark.parametrize("role", ["root", "ADMIN", ""])
def test_cli_set_role_refuses_an_unknown_role(app, cli, make_user, role):
    user = make_user()
    result = cli("set-role", user.username, role)
    assert result.exit_code != 0
    assert stored(app, user.id).role == "user"


@pytest.mark.parametrize("body", [None, {}, {"current_password": "not-my-password"}, {"current_password": 7}])
def test_deleting_ones_own_account_needs_the_current_password(app, client, make_user, body):
    """A stolen access token alone cannot destroy the account."""
    user = make_user()
    tokens = login(client, user.username)
    kwargs = {} if body is None else {"json": body}
    response = client.delete(f"/api/users/{user.id}", headers=bearer(tokens["access_token"]), **kwargs)
    assert response.status_code in (400, 401), response.data
    assert_error(
        response,
        response.status_code,
        "validation_error" if body and body.get("current_password") == 7 else "invalid_credentials",
    )
    assert stored(app, user.id) is not None
    assert client.get("/api/auth/whoami", headers=bearer(tokens["access_token"])).status_code == 200


def test_an_admin_deletes_another_account_without_a_password(app, client, make_user, admin_tokens):
    _, admin = admin_tokens
    user = make_user()
    assert client.delete(f"/api/users/{user.id}", headers=bearer(admin["access_token"])).status_code == 204
    assert stored(app, user.id) is None
