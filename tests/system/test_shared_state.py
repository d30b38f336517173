"""Two server processes on one PostgreSQL: state changed on one is honoured by the other at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import cycle

from tests.helpers import PASSWORD
from tests.system.conftest import call, flask_cli, needs_postgres, register, sign_in

pytestmark = needs_postgres


def register_and_login(base: str, username: str) -> dict:
    register(base, username)
    return sign_in(base, username)


def test_logout_on_one_is_honoured_by_the_other(servers):
    a, b = servers
    tokens = register_and_login(a, "alice")
    assert call(b, "GET", "/api/auth/whoami", token=tokens["access_token"]).status == 200
    assert call(a, "POST", "/api/auth/logout", token=tokens["access_token"]).status == 200
    assert call(b, "GET", "/api/auth/whoami", token=tokens["access_token"]).status == 401
    assert call(b, "POST", "/api/auth/refresh", token=tokens["refresh_token"]).status == 401


def test_refresh_on_one_spends_the_token_on_the_other(servers):
    a, b = servers
    tokens = register_and_login(a, "bob")
    rotated = call(a, "POST", "/api/auth/refresh", token=tokens["refresh_token"])
    assert rotated.status == 200
    assert call(b, "POST", "/api/auth/refresh", token=tokens["refresh_token"]).status == 401
    # that reuse revoked the family on both servers
    assert call(a, "GET", "/api/auth/whoami", token=rotated.body["access_token"]).status == 401


def test_password_change_on_one_signs_out_the_other(servers):
    a, b = servers
    first = register_and_login(a, "carol")
    second = sign_in(b, "carol")
    changed = call(
        a,
        "POST",
        "/api/auth/password",
        json_body={"current_password": PASSWORD, "new_password": "a-brand-new-passphrase"},
        token=first["access_token"],
    )
    assert changed.status == 200, changed.body
    assert call(b, "GET", "/api/auth/whoami", token=second["access_token"]).status == 401
    assert call(b, "POST", "/api/auth/refresh", token=second["refresh_token"]).status == 401
    assert call(b, "GET", "/api/auth/whoami", token=changed.body["access_token"]).status == 200


def test_deactivation_on_one_is_honoured_by_the_other(servers):
    a, b = servers
    register_and_login(a, "root")
    promoted = flask_cli("set-role", "root", "admin")  # a third process: the operator's command
    assert promoted.returncode == 0, promoted.stderr
    admin = sign_in(a, "root")
    user = register_and_login(b, "dave")
    dave_id = call(b, "GET", "/api/auth/whoami", token=user["access_token"]).body["id"]
    reply = call(
        a, "PATCH", f"/api/users/{dave_id}", json_body={"is_active": False}, token=admin["access_token"]
    )
    assert reply.status == 200, reply.body
    assert call(b, "GET", "/api/auth/whoami", token=user["access_token"]).status == 401
    assert call(b, "GET", "/list/", token=user["access_token"]).body == {
        "detail": "Invalid username or password."
    }


def test_concurrent_refresh_with_one_token_yields_exactly_one_pair(servers):
    a, b = servers
    tokens = register_and_login(a, "erin")
    bases = cycle(servers)
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(
            pool.map(
                lambda base: call(
                    base, "POST", "/token/refresh/", json_body={"refresh": tokens["refresh_token"]}
                ),
                [next(bases) for _ in range(20)],
            )
        )
    statuses = sorted(reply.status for reply in replies)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == 19, statuses
    # the reuse revoked the family: even the one new pair is dead now
    winner = next(reply for reply in replies if reply.status == 200)
    assert call(b, "GET", "/api/auth/whoami", token=winner.body["access"]).status == 401


def test_concurrent_registrations_of_one_name_yield_one_account(servers):
    bases = cycle(servers)

    def register(index: int):
        return call(
            next(bases),
            "POST",
            "/api/auth/register",
            json_body={"username": "Frank", "email": f"frank{index}@example.com", "password": PASSWORD},
        )

    with ThreadPoolExecutor(max_workers=25) as pool:
        replies = list(pool.map(register, range(50)))
    statuses = sorted(reply.status for reply in replies)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 49, statuses
    assert {reply.body["code"] for reply in replies if reply.status == 409} == {"username_taken"}


def test_the_production_server_names_no_version(servers):
    reply = call(servers[0], "GET", "/health")
    server = reply.headers.get("Server", "")
    assert not any(character.isdigit() for character in server), server
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
