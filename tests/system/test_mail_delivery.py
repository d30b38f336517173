"""Mail through a real serving process and a real SMTP server (tests/mailserver.py), on SQLite and
on PostgreSQL (API.md section 6, docs/email.md "The outbox and delivery").

- A gunicorn server with the production config and FLASK_MAIL_SEND_IN_BACKGROUND=true mails a
  registration's verification link, a reset link and the "password changed" notice, each within
  seconds of its commit and with no later request to carry it; each link works once.
- With the SMTP server down the requests answer as fast as ever, the messages wait in ``outbox``
  (attempted, the error noted, retried after 2 s and then 4 s), and arrive once it is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.helpers import PASSWORD
from tests.mailserver import SmtpSink, link_in, token_in
from tests.system.conftest import (
    call,
    database_for_servers,
    register,
    running_servers,
    sign_in,
    wait_for_mail,
)

PUBLIC_URL = "https://auth.example.test"
NEW_PASSWORD = "a-brand-new-passphrase-42"
# The sender starts an attempt at once when a commit wakes it, and otherwise looks every 10 s
# (sender.POLL): a message that arrives well within that came because the commit rang.
PROMPT = 4.0
# A request never talks to SMTP; this guard is generous for a loaded machine, and far below the
# FLASK_MAIL_TIMEOUT set here, which a request that did wait on a dead server would show.
ANSWER_GUARD = 2.0
MAIL_TIMEOUT = "8"


@dataclass
class MailRun:
    base: str
    sink: SmtpSink
    engine: Engine  # the servers' database, read directly


@pytest.fixture(scope="module")
def mail_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailRun]:
    """One gunicorn server (one worker, so one sender thread) mailing a real SMTP sink."""
    tmp_path: Path = tmp_path_factory.mktemp("mail")
    database_url = database_for_servers(tmp_path)
    with SmtpSink() as sink:
        with running_servers(
            tmp_path,
            database_url,
            FLASK_MAIL_URL=sink.url(),
            FLASK_MAIL_SEND_IN_BACKGROUND="true",
            FLASK_MAIL_TIMEOUT=MAIL_TIMEOUT,
            FLASK_PUBLIC_URL=PUBLIC_URL,
        ) as (base,):
            engine = create_engine(database_url)
            try:
                yield MailRun(base, sink, engine)
            finally:
                engine.dispose()


def outbox_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT recipient, kind, attempts, last_error, claimed_until, created_at, next_attempt_at"
                " FROM outbox"
            )
        ).mappings()
        return [dict(row) for row in rows]


def as_datetime(value: Any) -> datetime:
    """A timestamp as read without the ORM: a datetime on PostgreSQL, ISO text on SQLite."""
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return stamp.replace(tzinfo=None)


def wait_until(condition: Any, *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)
    return value


def timed_call(base: str, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    reply = call(base, *args, **kwargs)
    return reply, time.monotonic() - started


# --- real delivery ------------------------------------------------------------------------------


def test_registration_and_recovery_mail_arrive_without_another_request(mail_run: MailRun) -> None:
    base, sink = mail_run.base, mail_run.sink
    committed = time.monotonic()
    register(base, "ada")
    verify = wait_for_mail(sink, to="ada@example.com", subject="Confirm your email address", timeout=PROMPT)
    print(f"\nverification mail arrived {time.monotonic() - committed:.3f} s after the request was sent")
    assert verify["From"] == "no-reply@auth.example.test"
    assert link_in(verify).startswith(f"{PUBLIC_URL}/demo#verify=")
    token = token_in(verify)
    first = call(base, "POST", "/api/auth/email/verify", json_body={"token": token})
    assert first.status == 200, first.body
    assert first.body["email_verified"] is True and first.body["email"] == "ada@example.com"
    again = call(base, "POST", "/api/auth/email/verify", json_body={"token": token})
    assert (again.status, again.body["code"]) == (400, "invalid_link")

    committed = time.monotonic()
    forgot = call(base, "POST", "/api/auth/password/forgot", json_body={"email": "ada@example.com"})
    assert forgot.status == 202, forgot.body
    reset = wait_for_mail(sink, to="ada@example.com", subject="Reset your password", timeout=PROMPT)
    print(f"reset mail arrived {time.monotonic() - committed:.3f} s after the request was sent")
    assert link_in(reset).startswith(f"{PUBLIC_URL}/demo#reset=")
    body = {"token": token_in(reset), "new_password": NEW_PASSWORD}
    done = call(base, "POST", "/api/auth/password/reset", json_body=body)
    assert (done.status, done.body) == (200, {"message": "Password changed"})
    replay = call(
        base, "POST", "/api/auth/password/reset", json_body=body | {"new_password": "other-passphrase-77"}
    )
    assert (replay.status, replay.body["code"]) == (400, "invalid_link")
    old = call(base, "POST", "/api/auth/login", json_body={"username": "ada", "password": PASSWORD})
    assert old.status == 401, old.body
    sign_in(base, "ada", NEW_PASSWORD)
    wait_for_mail(sink, to="ada@example.com", subject="Your password was changed", timeout=PROMPT)
    wait_until(lambda: not outbox_rows(mail_run.engine), timeout=PROMPT, what="the outbox empties")


def test_with_smtp_down_requests_stay_fast_and_mail_waits_then_arrives(mail_run: MailRun) -> None:
    base, sink, engine = mail_run.base, mail_run.sink, mail_run.engine
    sink.stop()
    try:
        reply, took = timed_call(
            base,
            "POST",
            "/api/auth/register",
            json_body={"username": "grace", "email": "grace@example.com", "password": PASSWORD},
        )
        assert reply.status == 201, reply.body
        assert took < ANSWER_GUARD, f"registration took {took:.3f} s with SMTP down"
        reply, took = timed_call(
            base, "POST", "/api/auth/password/forgot", json_body={"email": "grace@example.com"}
        )
        assert reply.status == 202, reply.body
        assert took < ANSWER_GUARD, f"forgot-password took {took:.3f} s with SMTP down"

        def attempted(times: int) -> list[dict[str, Any]]:
            """Both rows once ``times`` attempts have failed (claimed again means one is under way)."""
            rows = [row for row in outbox_rows(engine) if row["recipient"] == "grace@example.com"]
            done = [row for row in rows if row["attempts"] >= times and row["claimed_until"] is None]
            return rows if len(done) == 2 else []

        first = wait_until(lambda: attempted(1), timeout=PROMPT, what="the sender tries both messages")
        assert sorted(row["kind"] for row in first) == ["reset", "verify"]
        for row in first:
            assert row["last_error"] and "refused" in row["last_error"].lower(), row["last_error"]
            assert "@" not in row["last_error"]  # the reason, never the message or its address
        # Backoff: the first retry is planned 2 s after the failure, the next 4 s after that one.
        assert [row["attempts"] for row in first] == [1, 1]
        for row in first:
            wait = (as_datetime(row["next_attempt_at"]) - as_datetime(row["created_at"])).total_seconds()
            assert 1.8 <= wait <= 3.0, f"first retry planned {wait:.2f} s after queuing"
        planned = {row["kind"]: as_datetime(row["next_attempt_at"]) for row in first}
        second = wait_until(lambda: attempted(2), timeout=8, what="the first retry fails too")
        assert [row["attempts"] for row in second] == [2, 2]
        for row in second:
            gap = (as_datetime(row["next_attempt_at"]) - planned[row["kind"]]).total_seconds()
            assert 3.8 <= gap <= 5.0, f"second retry planned {gap:.2f} s after the first (doubling)"
        assert not [r for r in sink.received if r.rcpt_tos == ("grace@example.com",)]
    finally:
        sink.start()  # the same port: the sender's next retry finds it

    verify = wait_for_mail(sink, to="grace@example.com", subject="Confirm your email address", timeout=30)
    wait_for_mail(sink, to="grace@example.com", subject="Reset your password", timeout=30)
    wait_until(lambda: not outbox_rows(engine), timeout=5, what="the outbox empties once delivered")
    verified = call(base, "POST", "/api/auth/email/verify", json_body={"token": token_in(verify)})
    assert verified.status == 200, verified.body
