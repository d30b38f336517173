"""One-time links raced against a real gunicorn server, on SQLite and on PostgreSQL (API.md section 6:
"single use; a newer token of the same purpose and user voids older ones").

Each token is taken from a message the server really mailed (a real SMTP sink), then spent by
requests released together from several threads into a server of 2 workers x 8 threads:

- ten resets with one token: exactly one 200, the rest 400 invalid_link, and the password is the
  winner's (no loser's password works, nor the old one); one "password changed" notice;
- ten verifications, and ten email change confirmations, with one token: exactly one 200 each;
- eight forgot-password requests for one address: one live reset token is left, one of those mailed.

The confirmation race's losing interleaving is forced, every time, in tests/api/test_link_interleavings.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from authsvc.security import one_time_hash
from tests.helpers import PASSWORD
from tests.mailserver import SmtpSink, token_in
from tests.system.conftest import (
    Reply,
    at_once,
    call,
    database_for_servers,
    register,
    running_servers,
    sign_in,
    wait_for_mail,
)

RACERS = 10
FORGETTERS = 8
MAIL_WAIT = 10.0
# The losing interleaving of confirmations is narrow (two reads apart): a few rounds find it.
CONFIRM_ROUNDS = 5


@dataclass
class LinkRun:
    base: str
    sink: SmtpSink
    engine: Engine  # the server's database, read directly


@pytest.fixture(scope="module")
def link_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinkRun]:
    """One gunicorn server (2 workers x 8 threads, throttling off so only the race decides) mailing
    a real SMTP sink from its background senders."""
    tmp_path: Path = tmp_path_factory.mktemp("links")
    database_url = database_for_servers(tmp_path)
    with SmtpSink() as sink:
        with running_servers(
            tmp_path,
            database_url,
            workers=2,
            FLASK_MAIL_URL=sink.url(),
            FLASK_MAIL_SEND_IN_BACKGROUND="true",
            FLASK_PUBLIC_URL="https://auth.example.test",
            FLASK_RATELIMIT_ENABLED="false",
        ) as (base,):
            engine = create_engine(database_url)
            try:
                yield LinkRun(base, sink, engine)
            finally:
                engine.dispose()


def mailed_token(run: LinkRun, to: str, subject: str) -> str:
    return token_in(wait_for_mail(run.sink, to=to, subject=subject, timeout=MAIL_WAIT))


def one_winner(replies: list[Reply]) -> int:
    """Exactly one 200 and every other answer 400 invalid_link; the winner's index."""
    statuses = [(reply.status, (reply.body or {}).get("code")) for reply in replies]
    winners = [index for index, reply in enumerate(replies) if reply.status == 200]
    assert len(winners) == 1, statuses
    losers = [status for index, status in enumerate(statuses) if index != winners[0]]
    assert losers == [(400, "invalid_link")] * (len(replies) - 1), statuses
    return winners[0]


def post(base: str, path: str, body: dict[str, Any]) -> Reply:
    return call(base, "POST", path, json_body=body)


def password_works(base: str, username: str, password: str) -> bool:
    reply = post(base, "/api/auth/login", {"username": username, "password": password})
    assert reply.status in (200, 401), reply.body
    return reply.status == 200


def test_ten_resets_with_one_token_one_wins_and_sets_its_password(link_run: LinkRun) -> None:
    base = link_run.base
    register(base, "rita")
    post(base, "/api/auth/password/forgot", {"email": "rita@example.com"})
    token = mailed_token(link_run, "rita@example.com", "Reset your password")
    passwords = [f"racing-passphrase-{index}-tangerine" for index in range(RACERS)]
    replies = at_once(
        *(
            partial(post, base, "/api/auth/password/reset", {"token": token, "new_password": password})
            for password in passwords
        )
    )
    winner = one_winner(replies)
    works = {password: password_works(base, "rita", password) for password in [PASSWORD, *passwords]}
    assert [password for password, ok in works.items() if ok] == [passwords[winner]]
    wait_for_mail(
        link_run.sink, to="rita@example.com", subject="Your password was changed", timeout=MAIL_WAIT
    )
    wait_until_outbox_empty(link_run.engine)
    notices = [
        received
        for received in link_run.sink.received
        if received.rcpt_tos == ("rita@example.com",)
        and received.message["Subject"] == "Your password was changed"
    ]
    assert len(notices) == 1, "a losing reset mailed a notice"


def test_ten_verifications_with_one_token_one_wins(link_run: LinkRun) -> None:
    base = link_run.base
    register(base, "vera")
    token = mailed_token(link_run, "vera@example.com", "Confirm your email address")
    replies = at_once(
        *(partial(post, base, "/api/auth/email/verify", {"token": token}) for _ in range(RACERS))
    )
    winner = one_winner(replies)
    assert replies[winner].body["email_verified"] is True


@pytest.mark.parametrize("round_", range(CONFIRM_ROUNDS))
def test_ten_email_change_confirmations_with_one_token_one_wins(link_run: LinkRun, round_: int) -> None:
    base = link_run.base
    username, new_email = f"cora{round_}", f"cora{round_}.new@example.com"
    register(base, username)
    access = sign_in(base, username)["access_token"]
    asked = call(
        base,
        "POST",
        "/api/auth/email",
        json_body={"new_email": new_email, "current_password": PASSWORD},
        token=access,
    )
    assert asked.status == 202, asked.body
    token = mailed_token(link_run, new_email, "Confirm your new email address")
    replies = at_once(
        *(partial(post, base, "/api/auth/email/confirm", {"token": token}) for _ in range(RACERS))
    )
    winner = one_winner(replies)
    assert replies[winner].body["email"] == new_email
    assert replies[winner].body["email_verified"] is True
    assert call(base, "GET", "/api/auth/whoami", token=access).body["email"] == new_email


def test_racing_forgot_requests_leave_one_live_reset_link(link_run: LinkRun) -> None:
    base, engine = link_run.base, link_run.engine
    user_id = register(base, "faye")["id"]
    replies = at_once(
        *(
            partial(post, base, "/api/auth/password/forgot", {"email": "faye@example.com"})
            for _ in range(FORGETTERS)
        )
    )
    assert [reply.status for reply in replies] == [202] * FORGETTERS
    with engine.connect() as connection:
        live = (
            connection.execute(
                text(
                    "SELECT token_hash FROM one_time_token"
                    " WHERE user_id = :user AND purpose = 'reset' AND used_at IS NULL"
                ),
                {"user": user_id},
            )
            .scalars()
            .all()
        )
    assert len(live) == 1, f"{len(live)} live reset tokens after {FORGETTERS} racing requests"
    wait_until_outbox_empty(engine)
    tokens = [
        token_in(received.message)
        for received in link_run.sink.received
        if received.rcpt_tos == ("faye@example.com",) and received.message["Subject"] == "Reset your password"
    ]
    assert len(tokens) == FORGETTERS
    [newest] = [token for token in tokens if one_time_hash(token) == live[0]]
    for token in tokens:  # the voided ones first: trying the live one would void the rest itself
        if token != newest:
            reply = post(
                base, "/api/auth/password/reset", {"token": token, "new_password": "voided-link-passphrase-9"}
            )
            assert (reply.status, reply.body["code"]) == (400, "invalid_link")
    reply = post(
        base, "/api/auth/password/reset", {"token": newest, "new_password": "the-live-link-passphrase-9"}
    )
    assert reply.status == 200, reply.body


def wait_until_outbox_empty(engine: Engine, timeout: float = MAIL_WAIT) -> None:
    """Every queued message was handed to the sink (a row is deleted once the server took it)."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as connection:
            left = connection.execute(text("SELECT count(*) FROM outbox")).scalar_one()
        if left == 0:
            return
        assert time.monotonic() < deadline, f"{left} messages still in the outbox after {timeout} s"
        time.sleep(0.05)
