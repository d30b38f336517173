"""Admins creating accounts at the same instant, against a real server on SQLite and on PostgreSQL.

``POST /api/users`` checks that a name and an email are free and then inserts: between the two,
another request can take them. The unique indexes decide: exactly one request of a burst for one
username (or one email) gets 201, every other gets 409 with the code saying which, none a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import PASSWORD
from tests.system.conftest import Reply, at_once, call, database_for_servers, flask_cli, running_servers

BURST = 20


@pytest.fixture(scope="module")
def creation_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One gunicorn server (2 workers x 8 threads) and an admin's access token; registration closed,
    since POST /api/users must not depend on it."""
    tmp_path: Path = tmp_path_factory.mktemp("creation")
    database_url = database_for_servers(tmp_path)
    with running_servers(
        tmp_path, database_url, workers=2, FLASK_RATELIMIT_ENABLED="false", FLASK_REGISTRATION="closed"
    ) as (base,):
        made = flask_cli("create-user", "root", "--password", PASSWORD, "--admin", database_url=database_url)
        assert made.returncode == 0, made.stderr
        signed_in = call(
            base, "POST", "/api/auth/login", json_body={"username": "root", "password": PASSWORD}
        )
        assert signed_in.status == 200, signed_in.body
        yield base, signed_in.body["access_token"]


def burst(base: str, token: str, bodies: list[dict[str, str]]) -> list[Reply]:
    """Send every body at once."""
    return at_once(
        *(
            lambda body=body: call(base, "POST", "/api/users", json_body=body, token=token, timeout=60)
            for body in bodies
        )
    )


def outcomes(replies: list[Reply]) -> list[tuple[int, str | None]]:
    return sorted(
        (reply.status, None if reply.status == 201 else reply.body.get("code")) for reply in replies
    )


def test_one_username_created_at_once_twenty_times_gives_one_201(creation_server: tuple[str, str]) -> None:
    base, token = creation_server
    bodies = [
        {
            "username": "Carol" if index % 2 else "carol",
            "email": f"carol{index}@example.com",
            "password": PASSWORD,
        }
        for index in range(BURST)
    ]
    replies = burst(base, token, bodies)
    assert outcomes(replies) == [(201, None)] + [(409, "username_taken")] * (BURST - 1)
    [created] = [reply.body for reply in replies if reply.status == 201]
    listing = call(base, "GET", "/api/users/all?q=carol&per_page=100", token=token).body
    assert [user["id"] for user in listing["items"]] == [created["id"]]


def test_one_email_created_at_once_twenty_times_gives_one_201(creation_server: tuple[str, str]) -> None:
    base, token = creation_server
    bodies = [
        {"username": f"dave{index}", "email": "Dave@Example.com", "password": PASSWORD, "role": "admin"}
        for index in range(BURST)
    ]
    replies = burst(base, token, bodies)
    assert outcomes(replies) == [(201, None)] + [(409, "email_taken")] * (BURST - 1)
    listing = call(base, "GET", "/api/users/all?q=dave%40example.com&per_page=100", token=token).body
    assert listing["total"] == 1


def test_registration_stays_closed_while_admins_create(creation_server: tuple[str, str]) -> None:
    base, _ = creation_server
    body = {"username": "erin", "email": "erin@example.com", "password": PASSWORD}
    refused = call(base, "POST", "/api/auth/register", json_body=body)
    assert (refused.status, refused.body["code"]) == (403, "registration_closed")
