"""``flask mail send`` and ``flask mail test`` against a real SMTP server (tests/mailserver.py), and
the outbox's retry rules: backoff after a failure, leases that keep two senders apart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from authsvc.db import get_engine, session_scope
from authsvc.mail import Mail, get_mail
from authsvc.models import OutboxMessage, utcnow
from authsvc.services import outbox
from tests.conftest import make_settings
from tests.helpers import Api
from tests.mailserver import token_in


def outbox_rows(app) -> list[OutboxMessage]:
    with app.app_context(), session_scope(get_engine(app)) as session:
        rows = session.exec(select(OutboxMessage)).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def test_mail_test_sends_a_test_message_through_smtp(make_app, smtp_sink):
    app = make_app(mail_url=smtp_sink.url())
    result = app.test_cli_runner().invoke(args=["mail", "test", "Ops@Example.com"])
    assert result.exit_code == 0, result.output
    assert "handed to the mail server" in result.output
    [received] = smtp_sink.wait_for(1)
    assert list(received.rcpt_tos) == ["ops@example.com"]
    assert received.message["Subject"] == "authsvc test message"


def test_mail_test_says_in_one_line_when_the_server_is_down(make_app, closed_smtp_port):
    app = make_app(mail_url=f"smtp://127.0.0.1:{closed_smtp_port}", mail_timeout=1)
    result = app.test_cli_runner().invoke(args=["mail", "test", "ops@example.com"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: the test message was not sent:")
    assert result.output.count("\n") == 1


def test_mail_test_refuses_a_bad_address(make_app):
    result = make_app().test_cli_runner().invoke(args=["mail", "test", "not-an-address"])
    assert result.exit_code == 2 and "ADDRESS" in result.output


def test_mail_send_delivers_the_outbox_once_and_backs_off_while_the_server_is_down(make_app, make_smtp_sink):
    sink = make_smtp_sink()
    app = make_app(mail_url=sink.url(), mail_timeout=1)
    runner = app.test_cli_runner()
    assert Api(app.test_client()).register("ada").status_code == 201
    sink.stop()

    failed = runner.invoke(args=["mail", "send"])
    assert failed.exit_code == 1
    assert "Sent 0, failed 1; 1 waiting in the outbox." in failed.output
    [row] = outbox_rows(app)
    assert row.attempts == 1 and row.claimed_until is None and row.last_error
    assert row.next_attempt_at > utcnow() + timedelta(seconds=1)  # backed off: not due at once
    again = runner.invoke(args=["mail", "send"])
    assert "Sent 0, failed 0; 1 waiting" in again.output  # not due yet: no attempt, no hammering

    sink.start()
    with app.app_context(), session_scope(get_engine(app)) as session:
        row = session.get(OutboxMessage, row.id)
        row.next_attempt_at = utcnow()  # the backoff has passed
        session.add(row)
        session.commit()
    sent = runner.invoke(args=["mail", "send"])
    assert sent.exit_code == 0 and "Sent 1, failed 0; 0 waiting in the outbox." in sent.output
    [received] = sink.wait_for(1)
    assert list(received.rcpt_tos) == ["ada@example.com"] and len(token_in(received.message)) == 43
    assert outbox_rows(app) == []


def test_backoff_doubles_and_is_capped():
    waits = [outbox.retry_after(attempt) for attempt in range(1, 12)]
    assert waits[:4] == [2.0, 4.0, 8.0, 16.0] and waits[-1] == outbox.LAST_RETRY
    assert outbox.retry_after(1, permanent=True) == outbox.LAST_RETRY  # a 5xx: the server would say it again


def test_a_row_another_sender_holds_is_left_alone_until_its_lease_ends(make_app, smtp_sink):
    app = make_app(mail_url=smtp_sink.url())
    assert Api(app.test_client()).register("ada").status_code == 201
    [row] = outbox_rows(app)
    with app.app_context(), session_scope(get_engine(app)) as session:
        held = session.get(OutboxMessage, row.id)
        held.claimed_until = utcnow() + timedelta(seconds=60)  # another process is sending it
        session.add(held)
        session.commit()
    with app.app_context():
        delivery = get_mail(app).deliver()
    assert (delivery.sent, delivery.failed) == (0, 0) and smtp_sink.messages == []
    assert delivery.next_due is not None and delivery.next_due > utcnow() + timedelta(seconds=50)
    with app.app_context(), session_scope(get_engine(app)) as session:
        held = session.get(OutboxMessage, row.id)
        held.claimed_until = utcnow() - timedelta(seconds=1)  # that sender died: its lease ran out
        session.add(held)
        session.commit()
    with app.app_context():
        assert get_mail(app).deliver().sent == 1
    smtp_sink.wait_for(1)


def test_a_message_sealed_under_another_secret_is_kept_and_reported_not_sent(make_app, smtp_sink, caplog):
    app = make_app(mail_url=smtp_sink.url())
    assert Api(app.test_client()).register("ada").status_code == 201
    # The same database, read by a process whose FLASK_SECRET_KEY changed.
    changed = make_settings(Path(app.instance_path).parent, mail_url=smtp_sink.url(), secret_key="x" * 40)
    delivery = Mail(changed, get_engine(app)).deliver()
    assert delivery.failed == 1 and smtp_sink.messages == []
    [row] = outbox_rows(app)
    assert row.last_error == "the message does not open with this secret"
    assert "does not open" in caplog.text
