"""Senders racing over one outbox send every message exactly once (docs/email.md: a sender claims
each row with a conditional update before sending it), on SQLite and on PostgreSQL, against a real
SMTP server (tests/mailserver.py): threads of one process, and separate processes beside them.

Kept apart from test_mail_delivery.py: a server left running there would be one more sender on
PostgreSQL's shared schema, delivering these messages to its own sink.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, text

from authsvc.db import get_engine
from authsvc.extensions import get_settings
from authsvc.mail import get_mail
from authsvc.models import utcnow
from authsvc.services.outbox import Delivery
from tests.helpers import Api
from tests.mailserver import SmtpSink
from tests.system.conftest import FLASK_SECRET, server_env

PUBLIC_URL = "https://auth.example.test"


def outbox_size(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM outbox")).scalar_one())


def queue_registrations(app: Flask, count: int) -> list[str]:
    """Register ``count`` users through the API of an app without a sender; their addresses."""
    api = Api(app.test_client())
    addresses = []
    for index in range(count):
        response = api.register(f"racer{index}")
        assert response.status_code == 201, response.get_json()
        addresses.append(f"racer{index}@example.com")
    return addresses


def assert_each_once(sink: SmtpSink, addresses: list[str]) -> None:
    counts = Counter(to for received in sink.received for to in received.rcpt_tos)
    twice = {to: n for to, n in counts.items() if n != 1}
    assert not twice, f"sent more than once: {twice}"
    assert sorted(counts) == sorted(addresses)


def drain(deliver: Callable[[], Delivery]) -> int:
    """Passes over the outbox until nothing is due, as the background sender makes them (it passes
    again at once while a message is due); how many messages this sender sent.

    A pass whose batch other senders claimed first ends early; the next one competes again, so
    senders keep racing for rows until the outbox is empty.
    """
    sent = 0
    while True:
        delivery = deliver()
        sent += delivery.sent
        assert not delivery.failed
        if delivery.next_due is None or delivery.next_due > utcnow():
            return sent


def racing_senders(app: Flask, senders: int, *, before: Callable[[], None] | None = None) -> list[int]:
    """``senders`` threads released together, each draining the outbox; what each one sent."""
    mail = get_mail(app)
    barrier = threading.Barrier(senders + (1 if before is not None else 0))
    results: list[int | BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            outcome: int | BaseException = drain(mail.deliver)
        except BaseException as error:  # reported below: an exception in a thread goes unseen
            outcome = error
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(senders)]
    for thread in threads:
        thread.start()
    if before is not None:
        before()
        barrier.wait()
    for thread in threads:
        thread.join(timeout=60)
    errors = [result for result in results if isinstance(result, BaseException)]
    assert not errors, errors
    assert len(results) == senders, "a sender never finished"
    return [result for result in results if isinstance(result, int)]


@pytest.fixture
def race_app(make_app: Any, smtp_sink: SmtpSink) -> Flask:
    app: Flask = make_app(mail_url=smtp_sink.url(), secret_key=FLASK_SECRET, public_url=PUBLIC_URL)
    return app


def test_senders_racing_in_threads_send_each_message_once(race_app: Flask, smtp_sink: SmtpSink) -> None:
    addresses = queue_registrations(race_app, 30)
    sent = racing_senders(race_app, 6)
    print(f"\nsent by each thread: {sent}")
    assert_each_once(smtp_sink, addresses)
    assert sum(sent) == 30
    assert get_mail(race_app).deliver().sent == 0
    assert outbox_size(get_engine(race_app)) == 0


# Builds the app as ``flask mail send`` does (under a click context, so it neither migrates nor
# makes keys), says so and waits for the go, so that every sender starts on one signal; then drains
# the outbox as ``drain`` does.
SENDER_SCRIPT = """
import json, sys
import click
from authsvc import create_app
from authsvc.mail import get_mail
from authsvc.models import utcnow
with click.Context(click.Command("mail-race")):
    app = create_app()
print("ready", flush=True)
sys.stdin.readline()
sent = 0
while True:
    delivery = get_mail(app).deliver()
    sent += delivery.sent
    assert not delivery.failed
    if delivery.next_due is None or delivery.next_due > utcnow():
        break
print(json.dumps({"sent": sent}), flush=True)
"""


def test_sender_processes_and_threads_racing_send_each_message_once(
    race_app: Flask, smtp_sink: SmtpSink
) -> None:
    """Two processes (each its own pool of connections, as a cron ``flask mail send`` beside a server)
    and three threads of this one, all released together over one outbox of 40 messages."""
    addresses = queue_registrations(race_app, 40)
    with race_app.app_context():
        database_url = get_settings().sqlalchemy_url
    env = server_env(
        database_url,
        FLASK_MAIL_URL=smtp_sink.url(),
        FLASK_PUBLIC_URL=PUBLIC_URL,
        FLASK_MAIL_SEND_IN_BACKGROUND="false",
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER_SCRIPT],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs: list[tuple[str, str]] = []
    try:
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line == "ready\n", (line, process.stderr.read() if process.stderr else "")

        def release_processes() -> None:
            for process in processes:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()

        by_threads = racing_senders(race_app, 3, before=release_processes)
        for process in processes:
            outputs.append(process.communicate(timeout=60))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    by_processes = [json.loads(out.splitlines()[-1])["sent"] for out, _ in outputs]
    print(f"\nsent by the processes: {by_processes}, by the threads: {by_threads}")
    assert_each_once(smtp_sink, addresses)
    assert sum(by_processes) + sum(by_threads) == 40
    assert get_mail(race_app).deliver().sent == 0
    assert outbox_size(get_engine(race_app)) == 0
