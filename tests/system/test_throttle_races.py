"""Parallel password guesses against real servers: N guesses in flight cost N, shared or not.

Flask-Limiter's check-before, count-after let every request already in flight through (60 parallel
wrong passwords all got a 401 against 5 per minute). Here the budget is taken before the hash is
checked, so exactly the budget's worth of guesses ever reach bcrypt, however they are timed.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle
from pathlib import Path

import pytest

from tests.helpers import PASSWORD
from tests.system.conftest import Reply, call, database_for_servers, register, running_servers

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
# bcrypt slow enough that the parallel guesses really are in flight together
THROTTLED = {"FLASK_BCRYPT_ROUNDS": "9", "FLASK_RATELIMIT_ENABLED": "true"}


def guesses(bases: list[str], username: str, count: int, *, path: str = "/api/auth/login") -> list[Reply]:
    targets = cycle(bases)
    with ThreadPoolExecutor(max_workers=30) as pool:
        return list(
            pool.map(
                lambda base: call(
                    base, "POST", path, json_body={"username": username, "password": "wrong-guess"}
                ),
                [next(targets) for _ in range(count)],
            )
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp_path: Path = tmp_path_factory.mktemp("throttle")
    # One process: memory counts are per process (Redis shares them across processes, below).
    with running_servers(tmp_path, database_for_servers(tmp_path), threads=16, **THROTTLED) as (base,):
        yield base


@pytest.mark.parametrize("path", ["/api/auth/login", "/token/"])
def test_sixty_parallel_wrong_passwords_get_five_answers(server, path):
    username = f"target-{uuid.uuid4().hex[:8]}"
    register(server, username)
    statuses = sorted(reply.status for reply in guesses([server], username, 60, path=path))
    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) == 55, statuses
    # the account is locked for the window: the right password is refused too, before any hashing
    assert call(server, "POST", path, json_body={"username": username, "password": PASSWORD}).status == 429


def test_parallel_right_passwords_keep_the_session_cap(tmp_path):
    database_url = database_for_servers(tmp_path)
    with running_servers(
        tmp_path,
        database_url,
        workers=2,
        FLASK_MAX_SESSIONS_PER_USER="3",
        FLASK_BCRYPT_ROUNDS="8",
        FLASK_RATELIMIT_ENABLED="false",  # the cap, not the throttle, is under test
    ) as (base,):
        register(base, "popular")
        with ThreadPoolExecutor(max_workers=12) as pool:
            replies = list(
                pool.map(
                    lambda _: call(
                        base,
                        "POST",
                        "/api/auth/login",
                        json_body={"username": "popular", "password": PASSWORD},
                    ),
                    range(12),
                )
            )
        assert {reply.status for reply in replies} == {200}
        alive = [
            reply
            for reply in replies
            if call(base, "GET", "/api/auth/whoami", token=reply.body["access_token"]).status == 200
        ]
        listed = call(base, "GET", "/api/auth/sessions", token=alive[0].body["access_token"]).body
        assert len(listed) == 3, listed
        refreshed = [
            call(base, "POST", "/api/auth/refresh", token=reply.body["refresh_token"]).status
            for reply in replies
        ]
        assert refreshed.count(200) == 3, refreshed


@pytest.mark.skipif(
    not TEST_REDIS_URL, reason="needs Redis to share counts between processes: set TEST_REDIS_URL=redis://..."
)
def test_parallel_guesses_across_two_servers_share_one_budget_through_redis(tmp_path):
    database_url = database_for_servers(tmp_path)
    with running_servers(
        tmp_path, database_url, count=2, FLASK_RATELIMIT_STORAGE_URI=TEST_REDIS_URL, **THROTTLED
    ) as bases:
        username = f"shared-{uuid.uuid4().hex[:8]}"
        register(bases[0], username)
        statuses = sorted(reply.status for reply in guesses(bases, username, 40))
    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) == 35, statuses
