"""The second factor under real parallel requests, against gunicorn (2 workers x 8 threads) on
SQLite and on PostgreSQL: a code works once however many requests race with it.

- Ten sign-ins, each with its own ``mfa_token``, all verifying the same TOTP code at once: exactly
  one gets tokens (a time step is taken by a conditional update), the rest 401 ``invalid_code``.
- Ten requests verifying one ``mfa_token`` with ten different recovery codes at once: exactly one
  completes the sign-in (the token is spent by a conditional update), and only one code is used.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from tests.helpers import PASSWORD
from tests.system.conftest import at_once, call, database_for_servers, register, running_servers, sign_in

RACERS = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path: Path = tmp_path_factory.mktemp("mfa-races")
    with running_servers(
        tmp_path, database_for_servers(tmp_path), workers=2, FLASK_RATELIMIT_ENABLED="false"
    ) as (base,):
        yield base


def enrol(base: str, username: str) -> tuple[str, list[str]]:
    """Register and turn the factor on; the secret and the recovery codes."""
    register(base, username)
    access = sign_in(base, username)["access_token"]
    started = call(base, "POST", "/api/auth/mfa/totp", json_body={"current_password": PASSWORD}, token=access)
    assert started.status == 200, started.body
    secret = started.body["secret"]
    confirmed = call(
        base, "POST", "/api/auth/mfa/totp/confirm", json_body={"code": pyotp.TOTP(secret).now()}, token=access
    )
    assert confirmed.status == 200, confirmed.body
    return secret, confirmed.body["recovery_codes"]


def mfa_token(base: str, username: str) -> str:
    reply = call(base, "POST", "/api/auth/login", json_body={"username": username, "password": PASSWORD})
    assert reply.status == 200 and reply.body["mfa_required"] is True, reply.body
    return str(reply.body["mfa_token"])


def verify(base: str, token: str, code: str):
    return lambda: call(base, "POST", "/api/auth/mfa/verify", json_body={"mfa_token": token, "code": code})


def test_one_totp_code_raced_by_ten_sign_ins_signs_in_once(server):
    secret, _ = enrol(server, "racer")
    tokens = [mfa_token(server, "racer") for _ in range(RACERS)]
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the next step: the confirming code took this one
    replies = at_once(*(verify(server, token, code) for token in tokens))
    statuses = Counter(reply.status for reply in replies)
    assert statuses == {200: 1, 401: RACERS - 1}, [reply.body for reply in replies]
    assert {reply.body["code"] for reply in replies if reply.status == 401} == {"invalid_code"}


def test_one_mfa_token_raced_with_ten_recovery_codes_completes_one_sign_in(server):
    _, codes = enrol(server, "tokenracer")
    token = mfa_token(server, "tokenracer")
    replies = at_once(*(verify(server, token, code) for code in codes))
    assert Counter(reply.status for reply in replies)[200] == 1, [reply.body for reply in replies]
    assert all(reply.status == 401 for reply in replies if reply.status != 200)
    # every code but the winner's is still unused: each works for a new sign-in
    winner = next(code for code, reply in zip(codes, replies, strict=True) if reply.status == 200)
    for code in codes:
        if code != winner:
            reply = verify(server, mfa_token(server, "tokenracer"), code)()
            assert reply.status == 200, (code, reply.body)
    assert verify(server, mfa_token(server, "tokenracer"), winner)().status == 401
