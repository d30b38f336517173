"""Introspection racing a sign-out, against a real gunicorn server on SQLite and on PostgreSQL.

The invariant: once ``POST /api/auth/logout`` has returned, every introspection request sent after
that says ``{"active": false}`` for the session's tokens, whichever worker answers it. Several threads
ask about the access and the refresh token in a loop, before, during and after the sign-out.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.system.conftest import (
    at_once,
    call,
    database_for_servers,
    flask_cli,
    register,
    running_servers,
    sign_in,
)

ASKERS = 6


@pytest.fixture(scope="module")
def introspection_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """One gunicorn server (2 workers x 8 threads, throttling off so only the race decides) and the
    Basic header of a service client made by ``flask clients create`` as its own process."""
    tmp_path: Path = tmp_path_factory.mktemp("introspection")
    database_url = database_for_servers(tmp_path)
    with running_servers(tmp_path, database_url, workers=2, FLASK_RATELIMIT_ENABLED="false") as (base,):
        made = flask_cli("clients", "create", "race-checker", database_url=database_url)
        assert made.returncode == 0, made.stderr
        values = dict(line.split(": ", 1) for line in made.stdout.splitlines())
        pair = f"{values['client_id']}:{values['client_secret']}".encode()
        yield base, {"Authorization": "Basic " + base64.b64encode(pair).decode()}


@dataclass
class Askers:
    """Threads asking about the tokens as fast as they can; each answer kept with when it was sent."""

    base: str
    credentials: dict[str, str]
    tokens: list[str]
    answers: list[tuple[float, bool]] = field(default_factory=list)
    refusals: list[object] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _loop(self, index: int) -> None:
        while not self._stop.is_set():
            token = self.tokens[index % len(self.tokens)]
            sent = time.monotonic()
            reply = call(
                self.base,
                "POST",
                "/api/auth/introspect",
                json_body={"token": token},
                headers=self.credentials,
            )
            with self._lock:
                if reply.status == 200:
                    self.answers.append((sent, reply.body["active"]))
                else:  # checked by the test, not here: an assert in a thread would go unseen
                    self.refusals.append((reply.status, reply.body))
            index += 1

    def __enter__(self) -> Askers:
        self._threads = [threading.Thread(target=self._loop, args=(n,)) for n in range(ASKERS)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


@pytest.mark.parametrize("scope", ["local", "global"])
def test_after_logout_returns_every_introspection_says_inactive(introspection_server, scope):
    base, credentials = introspection_server
    username = f"racer-{scope}"
    register(base, username)
    pair = sign_in(base, username)
    tokens = [pair["access_token"], pair["refresh_token"]]
    with Askers(base, credentials, tokens) as askers:
        time.sleep(0.5)  # answers while the session is live
        reply = call(base, "POST", f"/api/auth/logout?scope={scope}", token=pair["access_token"])
        returned = time.monotonic()
        assert reply.status == 200, reply.body
        time.sleep(0.5)  # answers after the sign-out
    assert askers.refusals == []
    before = [active for sent, active in askers.answers if sent < returned]
    after = [active for sent, active in askers.answers if sent > returned]
    assert any(before), "the tokens were never seen live: the race was not run"
    assert len(after) >= ASKERS, "too few requests after the sign-out to tell"
    assert not any(after), f"{sum(after)} of {len(after)} answers after the sign-out said active"
    # and a burst of parallel requests released together, well after it, agree
    replies = at_once(
        *[
            lambda token=token: call(
                base, "POST", "/api/auth/introspect", json_body={"token": token}, headers=credentials
            )
            for token in tokens * 8
        ]
    )
    assert [r.body for r in replies] == [{"active": False}] * len(replies)


def test_parallel_introspections_of_a_live_session_all_say_active(introspection_server):
    base, credentials = introspection_server
    register(base, "steady")
    pair = sign_in(base, "steady")
    replies = at_once(
        *[
            lambda token=token: call(
                base, "POST", "/api/auth/introspect", json_body={"token": token}, headers=credentials
            )
            for token in [pair["access_token"], pair["refresh_token"]] * 10
        ]
    )
    assert {r.status for r in replies} == {200}
    assert [r.body["token_type"] for r in replies] == ["access", "refresh"] * 10
    # nothing was spent: the refresh token still rotates
    assert call(base, "POST", "/api/auth/refresh", token=pair["refresh_token"]).status == 200
