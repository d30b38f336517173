"""Sign-ins racing a credentials change, against a real server on SQLite and on PostgreSQL.

The invariant: once a password change (or a deactivation) has committed, no session started with
the old credentials can refresh or use its access token, however the requests interleaved.
An attacker who knows the old password signs in in a loop from several threads while the owner acts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import PASSWORD
from tests.system.conftest import call, database_for_servers, flask_cli, register, running_servers, sign_in

# bcrypt slow enough (tens of ms) that several sign-ins are always in flight when the change lands.
ROUNDS = "10"
ATTACKERS = 6
NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture(scope="module")
def race_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One gunicorn server (2 workers x 8 threads), throttling off so only the race decides."""
    tmp_path: Path = tmp_path_factory.mktemp("races")
    database_url = database_for_servers(tmp_path)
    with running_servers(
        tmp_path,
        database_url,
        workers=2,
        FLASK_BCRYPT_ROUNDS=ROUNDS,
        FLASK_RATELIMIT_ENABLED="false",
    ) as (base,):
        yield base, database_url


class Attacker:
    """Threads that sign in with the old password as fast as they can, keeping every pair they get."""

    def __init__(self, base: str, username: str) -> None:
        self.base, self.username = base, username
        self.pairs: list[dict] = []
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop) for _ in range(ATTACKERS)]

    def _loop(self) -> None:
        while not self._stop.is_set():
            reply = call(
                self.base,
                "POST",
                "/api/auth/login",
                json_body={"username": self.username, "password": PASSWORD},
            )
            self.statuses.append(reply.status)
            if reply.status == 200:
                self.pairs.append(reply.body)

    def __enter__(self) -> Attacker:
        for thread in self._threads:
            thread.start()
        time.sleep(0.5)  # the loop is running: sign-ins are in flight
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.5)  # sign-ins that began before the change finish after it
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def assert_all_dead(base: str, pairs: list[dict]) -> None:
    alive = [
        pair
        for pair in pairs
        if call(base, "POST", "/api/auth/refresh", token=pair["refresh_token"]).status != 401
        or call(base, "GET", "/api/auth/whoami", token=pair["access_token"]).status != 401
    ]
    assert not alive, f"{len(alive)} of {len(pairs)} sessions started with the old credentials still work"


@pytest.mark.parametrize("round_", range(2))
def test_no_session_started_with_the_old_password_survives_a_change(race_server, round_):
    base, _ = race_server
    username = f"victim{round_}"
    register(base, username)
    owner = sign_in(base, username)
    with Attacker(base, username) as attacker:
        changed = call(
            base,
            "POST",
            "/api/auth/password",
            json_body={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            token=owner["access_token"],
        )
        assert changed.status == 200, changed.body
    assert attacker.pairs, "the attack loop never signed in: the test proved nothing"
    assert set(attacker.statuses) <= {200, 401}, attacker.statuses
    assert_all_dead(base, attacker.pairs)
    # The owner's new session is the one that lives.
    assert call(base, "GET", "/api/auth/whoami", token=changed.body["access_token"]).status == 200
    assert call(base, "POST", "/api/auth/refresh", token=changed.body["refresh_token"]).status == 200


def test_no_session_started_with_the_old_password_survives_flask_set_password(race_server):
    """An operator's reset (issue 11, item 8) ends the sessions signed in meanwhile, not only the old ones."""
    base, database_url = race_server
    register(base, "locked-out")
    earlier = sign_in(base, "locked-out")
    with Attacker(base, "locked-out") as attacker:
        reset = flask_cli("set-password", "locked-out", "--password", NEW_PASSWORD, database_url=database_url)
        assert reset.returncode == 0, reset.stderr
    assert attacker.pairs, "the attack loop never signed in: the test proved nothing"
    assert set(attacker.statuses) <= {200, 401}, attacker.statuses
    assert_all_dead(base, [earlier, *attacker.pairs])
    sign_in(base, "locked-out", NEW_PASSWORD)


def test_no_session_started_before_a_deactivation_comes_back_on_reactivation(race_server):
    base, database_url = race_server
    created = flask_cli("create-user", "guard", "--password", PASSWORD, "--admin", database_url=database_url)
    assert created.returncode == 0, created.stderr
    admin = sign_in(base, "guard")
    register(base, "mallory")
    target = sign_in(base, "mallory")
    user_id = call(base, "GET", "/api/auth/whoami", token=target["access_token"]).body["id"]

    def set_active(active: bool) -> None:
        reply = call(
            base,
            "PATCH",
            f"/api/users/{user_id}",
            json_body={"is_active": active},
            token=admin["access_token"],
        )
        assert reply.status == 200, reply.body

    with Attacker(base, "mallory") as attacker:
        set_active(False)
    set_active(True)
    assert attacker.pairs, "the attack loop never signed in: the test proved nothing"
    assert_all_dead(base, [target, *attacker.pairs])
    # After reactivation the account works again for a new sign-in.
    fresh = sign_in(base, "mallory")
    assert call(base, "POST", "/api/auth/refresh", token=fresh["refresh_token"]).status == 200


class Refresher:
    """Threads that each hold a pair signed in with the old password and rotate it as fast as they can,
    keeping every pair a refresh hands back: a rotation committed across the change must not mint a
    pair that outlives it."""

    def __init__(self, base: str, pairs: list[dict]) -> None:
        self.base = base
        self.pairs: list[dict] = list(pairs)
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(pair,)) for pair in pairs]

    def _loop(self, pair: dict) -> None:
        while not self._stop.is_set():
            reply = call(self.base, "POST", "/api/auth/refresh", token=pair["refresh_token"])
            self.statuses.append(reply.status)
            if reply.status != 200:
                return
            pair = reply.body
            self.pairs.append(pair)

    def __enter__(self) -> Refresher:
        for thread in self._threads:
            thread.start()
        time.sleep(0.5)  # rotations are in flight
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.5)  # rotations that began before the change finish after it
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def test_no_pair_rotated_across_a_password_change_survives_it(race_server):
    base, _ = race_server
    register(base, "rotor")
    owner = sign_in(base, "rotor")
    stolen = [sign_in(base, "rotor") for _ in range(ATTACKERS)]
    with Refresher(base, stolen) as refresher:
        changed = call(
            base,
            "POST",
            "/api/auth/password",
            json_body={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            token=owner["access_token"],
        )
        assert changed.status == 200, changed.body
    assert refresher.statuses.count(200) > ATTACKERS, "few rotations ran: the test proved nothing"
    assert set(refresher.statuses) <= {200, 401}, refresher.statuses
    assert_all_dead(base, refresher.pairs)
    assert call(base, "POST", "/api/auth/refresh", token=changed.body["refresh_token"]).status == 200
