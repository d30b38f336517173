"""The last-admin guard under real concurrency, on SQLite (the default) and PostgreSQL.

Two admins demote (or delete) each other at the same instant: exactly one may win, so the service
is never left without an active admin. On SQLite ``FOR UPDATE`` is ignored, so the check and the
write must be serialised some other way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import PASSWORD
from tests.system.conftest import (
    Reply,
    at_once,
    call,
    database_for_servers,
    flask_cli,
    running_servers,
    sign_in,
)

ROUNDS = 6


@pytest.mark.parametrize("action", ["demote", "delete"])
def test_two_admins_removing_each_other_at_once_leave_one(tmp_path: Path, action: str):
    database_url = database_for_servers(tmp_path)
    with running_servers(tmp_path, database_url, workers=2, FLASK_RATELIMIT_ENABLED="false") as (base,):
        created = flask_cli(
            "create-user", "root", "--password", PASSWORD, "--admin", database_url=database_url
        )
        assert created.returncode == 0, created.stderr
        survivor = sign_in(base, "root")
        for round_ in range(ROUNDS):
            ids, tokens = [], []
            for name in (f"a{round_}", f"b{round_}"):
                body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
                user = call(base, "POST", "/api/auth/register", json_body=body).body
                promoted = call(
                    base,
                    "PATCH",
                    f"/api/users/{user['id']}",
                    json_body={"role": "admin"},
                    token=survivor["access_token"],
                )
                assert promoted.status == 200, promoted.body
                ids.append(user["id"])
                tokens.append(sign_in(base, name)["access_token"])
            # The previous survivor steps down, leaving exactly two active admins.
            me = call(base, "GET", "/api/auth/whoami", token=survivor["access_token"]).body
            stepped = call(
                base,
                "PATCH",
                f"/api/users/{me['id']}",
                json_body={"role": "user"},
                token=survivor["access_token"],
            )
            assert stepped.status == 200, stepped.body

            def remove(token: str, target: int) -> Callable[[], Reply]:
                if action == "delete":
                    return lambda: call(base, "DELETE", f"/api/users/{target}", token=token)
                return lambda: call(
                    base, "PATCH", f"/api/users/{target}", json_body={"role": "user"}, token=token
                )

            replies = at_once(remove(tokens[0], ids[1]), remove(tokens[1], ids[0]))
            # One wins; the other is refused as the last admin, or as no longer an admin (or a user).
            won = [index for index, reply in enumerate(replies) if reply.status in (200, 204)]
            lost = [reply.status for reply in replies if reply.status not in (200, 204)]
            assert len(won) == 1 and set(lost) <= {401, 403, 409}, (
                round_,
                [(r.status, r.body) for r in replies],
            )
            winner = won[0]
            survivor = sign_in(base, f"{'ab'[winner]}{round_}")
            assert call(base, "GET", "/api/users/all", token=survivor["access_token"]).status == 200
