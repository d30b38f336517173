"""The audit trail under parallel requests against real servers (two gunicorn processes, one
database), on SQLite and on PostgreSQL: every request that changed or was refused leaves exactly one
row, carrying its own request id, whatever the interleaving; and the admin's listing stays whole
while rows are being written."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PASSWORD
from tests.system.conftest import (
    Reply,
    at_once,
    call,
    database_for_servers,
    flask_cli,
    register,
    running_servers,
    sign_in,
)

ADMIN_PASSWORD = "the-admin-passphrase-71"


@pytest.fixture(scope="module")
def trail_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two servers on one database, throttling off so only the race decides; and an admin."""
    tmp_path: Path = tmp_path_factory.mktemp("audit-races")
    database_url = database_for_servers(tmp_path)
    with running_servers(tmp_path, database_url, count=2, FLASK_RATELIMIT_ENABLED="false") as bases:
        admin = ("create-user", "auditor", "--email", "auditor@example.com", "--password", ADMIN_PASSWORD)
        made = flask_cli(*admin, "--admin", database_url=database_url)
        assert made.returncode == 0, made.stderr
        admin = sign_in(bases[0], "auditor", ADMIN_PASSWORD)
        yield {"bases": bases, "admin": admin["access_token"]}


def events_of(world: dict[str, Any], user_id: int) -> list[dict[str, Any]]:
    reply = call(
        world["bases"][1], "GET", f"/api/admin/audit?user_id={user_id}&per_page=100", token=world["admin"]
    )
    assert reply.status == 200, reply.body
    assert reply.body["total"] == len(reply.body["items"])
    return list(reply.body["items"])


def tagged(base: str, method: str, path: str, request_id: str, **kwargs: Any) -> Reply:
    return call(base, method, path, headers={"X-Request-ID": request_id}, **kwargs)


def test_ten_refreshes_with_one_token_leave_one_row_each(trail_servers):
    name = f"r{uuid.uuid4().hex[:10]}"
    user = register(trail_servers["bases"][0], name)
    refresh = sign_in(trail_servers["bases"][0], name)["refresh_token"]
    ids = [f"race-{uuid.uuid4().hex[:12]}" for _ in range(10)]
    bases = trail_servers["bases"]
    replies = at_once(
        *(
            (lambda i=i: tagged(bases[i % 2], "POST", "/api/auth/refresh", ids[i], token=refresh))
            for i in range(10)
        )
    )
    assert sorted(reply.status for reply in replies) == [200] + [401] * 9
    rows = {
        row["request_id"]: row for row in events_of(trail_servers, user["id"]) if row["request_id"] in ids
    }
    assert sorted(rows) == sorted(ids), "each request wrote exactly one row, with its own id"
    outcomes = Counter((row["event"], row["outcome"]) for row in rows.values())
    assert outcomes[("refresh", "success")] == 1
    assert outcomes[("refresh_reuse", "session_revoked")] >= 1
    allowed = {("refresh", "success"), ("refresh_reuse", "session_revoked"), ("refresh", "revoked_session")}
    assert set(outcomes) <= allowed, outcomes
    winner = next(reply for reply in replies if reply.status == 200)
    assert rows[winner.headers["X-Request-ID"]]["outcome"] == "success"


def test_parallel_sign_ins_each_leave_one_row_while_the_admin_reads(trail_servers):
    bases = trail_servers["bases"]
    names = [f"s{uuid.uuid4().hex[:10]}" for _ in range(4)]
    users = [register(bases[0], name) for name in names]
    calls = []
    expected: dict[str, tuple[int, str]] = {}
    for round_ in range(3):
        for index, (name, user) in enumerate(zip(names, users, strict=True)):
            for right in (True, False):
                request_id = f"si-{round_}-{index}-{int(right)}-{uuid.uuid4().hex[:8]}"
                body = {"username": name, "password": PASSWORD if right else "not-the-password"}
                expected[request_id] = (user["id"], "success" if right else "failure")
                base = bases[len(calls) % 2]
                calls.append(
                    lambda b=base, r=request_id, j=body: tagged(b, "POST", "/api/auth/login", r, json_body=j)
                )
    reads = [
        (
            lambda: call(
                bases[1], "GET", "/api/admin/audit?event=sign_in&per_page=5", token=trail_servers["admin"]
            )
        )
        for _ in range(6)
    ]
    replies = at_once(*calls, *reads)
    writes, listings = replies[: len(calls)], replies[len(calls) :]
    assert Counter(reply.status for reply in writes) == {200: 12, 401: 12}
    assert all(reply.status == 200 for reply in listings), [reply.body for reply in listings]
    for listing in listings:  # each page is a consistent snapshot: newest first, within its total
        times = [item["time"] for item in listing.body["items"]]
        assert times == sorted(times, reverse=True) and listing.body["total"] >= len(times)
    found = {
        row["request_id"]: (row["user_id"], row["outcome"])
        for user in users
        for row in events_of(trail_servers, user["id"])
        if row["request_id"] in expected
    }
    assert found == expected


def test_ten_registrations_of_one_name_leave_one_account_and_one_row(trail_servers):
    """The account and its event commit together: the losers' unique-index refusals roll both back."""
    bases = trail_servers["bases"]
    name = f"g{uuid.uuid4().hex[:10]}"
    ids = [f"reg-{uuid.uuid4().hex[:12]}" for _ in range(10)]
    bodies = [{"username": name, "email": f"{name}-{i}@example.com", "password": PASSWORD} for i in range(10)]
    replies = at_once(
        *(
            (lambda i=i: tagged(bases[i % 2], "POST", "/api/auth/register", ids[i], json_body=bodies[i]))
            for i in range(10)
        )
    )
    assert sorted(reply.status for reply in replies) == [201] + [409] * 9
    winner = next(reply for reply in replies if reply.status == 201)
    rows = [row for row in events_of(trail_servers, winner.body["id"]) if row["event"] == "registration"]
    assert [(row["outcome"], row["request_id"]) for row in rows] == [
        ("success", winner.headers["X-Request-ID"])
    ]
    listing = call(
        bases[0], "GET", "/api/admin/audit?event=registration&per_page=100", token=trail_servers["admin"]
    )
    assert not {row["request_id"] for row in listing.body["items"]} & (
        set(ids) - {winner.headers["X-Request-ID"]}
    )
