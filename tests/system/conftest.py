"""Real servers for system tests: gunicorn processes sharing one PostgreSQL.

These need PostgreSQL because SQLite cannot be shared by processes on several hosts; they run
when ``TEST_DATABASE_URL`` points at PostgreSQL (``.ci/run`` sets it) and skip, saying so, otherwise.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from authsvc import migrate
from tests.conftest import TEST_DATABASE_URL, reset_schema
from tests.helpers import PASSWORD
from tests.mailserver import SmtpSink

needs_postgres = pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="needs PostgreSQL shared by several processes: set TEST_DATABASE_URL=postgresql+psycopg://...",
)

# Random-looking: production refuses a secret with a well-known word or a run such as 0123456789.
SECRET = "p5vhs2l7KXUWVdspBTqfdPO79JFcOPhTTkgNfi_KqSs"
FLASK_SECRET = "hLLc1VVukJi_FedP1TZlfxkmi0VO5M-pBCCo6fBlYCo"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def call(
    base: str,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15,
) -> Reply:
    """One HTTP request with the standard library; errors are answers, not exceptions."""
    data = None if json_body is None else json.dumps(json_body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status, headers = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, headers = error.read(), error.code, dict(error.headers)
    return Reply(status, json.loads(raw) if raw else None, headers)


def at_once(*calls: Callable[[], Reply], timeout: float = 90) -> list[Reply]:
    """Run the calls in threads released together by a barrier: real parallel requests."""
    barrier = threading.Barrier(len(calls))
    replies: list[Reply | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        replies[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    done = [reply for reply in replies if reply is not None]
    assert len(done) == len(calls), "a request never finished"
    return done


def register(base: str, username: str, password: str = PASSWORD) -> dict[str, Any]:
    """Register through the API (``username@example.com``); it must succeed. Returns the record."""
    body = {"username": username, "email": f"{username}@example.com", "password": password}
    reply = call(base, "POST", "/api/auth/register", json_body=body)
    assert reply.status == 201, reply.body
    return dict(reply.body)


def sign_in(base: str, username: str, password: str = PASSWORD) -> dict[str, Any]:
    """Sign in through the API; it must succeed. Returns the login body."""
    reply = call(base, "POST", "/api/auth/login", json_body={"username": username, "password": password})
    assert reply.status == 200, reply.body
    return dict(reply.body)


def wait_for_mail(sink: SmtpSink, *, to: str, subject: str, timeout: float) -> EmailMessage:
    """The one message to ``to`` with ``subject`` the sink got, waiting up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            received.message
            for received in sink.received
            if received.rcpt_tos == (to,) and received.message["Subject"] == subject
        ]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert len(found) == 1, f"{len(found)} messages {subject!r} to {to} within {timeout} s"
    return found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60  # a guard against a server that never answers, not a speed limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if call(base, "GET", "/health", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not come up:\n{log.read_text()}")


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(
        FLASK_ENVIRONMENT="production",
        FLASK_DATABASE_URL=database_url,
        FLASK_JWT_SECRET_KEY=SECRET,
        FLASK_SECRET_KEY=FLASK_SECRET,
        FLASK_BCRYPT_ROUNDS="4",
    )
    env.update(extra)
    return env


def database_for_servers(tmp_path: Path) -> str:
    """A database real server processes can share: this run's PostgreSQL schema, freshly migrated,
    or a new SQLite file (the server migrates it on start)."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        return f"sqlite:///{tmp_path / 'live.sqlite3'}"
    engine = create_engine(TEST_DATABASE_URL)
    reset_schema(engine)
    migrate.upgrade(engine)
    engine.dispose()
    return TEST_DATABASE_URL


@contextmanager
def running_servers(
    tmp_path: Path, database_url: str, *, count: int = 1, workers: int = 1, threads: int = 8, **env: str
) -> Iterator[list[str]]:
    """``count`` gunicorn servers with the production config on one database; their base URLs."""
    processes, bases, logs = [], [], []
    for index in range(count):
        port = free_port()
        log = tmp_path / f"server{index}.log"
        command = [
            sys.executable, "-m", "gunicorn", "-c", "python:authsvc.gunicorn_conf",
            "-b", f"127.0.0.1:{port}", "-w", str(workers), "--threads", str(threads), "authsvc:create_app()",
        ]  # fmt: skip
        with log.open("w") as out:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                command,
                env=server_env(database_url, FLASK_INSTANCE_PATH=str(tmp_path / f"instance{index}"), **env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        processes.append(process)
        bases.append(f"http://127.0.0.1:{port}")
        logs.append(log)
    try:
        for base, process, log in zip(bases, processes, logs, strict=True):
            wait_until_up(base, process, log)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two gunicorn servers (one worker, 8 threads each) on different ports, one PostgreSQL database.

    Shared by a module's tests, which therefore use names of their own.
    """
    tmp_path = tmp_path_factory.mktemp("servers")
    with running_servers(tmp_path, database_for_servers(tmp_path), count=2) as bases:
        yield bases


def flask_cli(
    *args: str, database_url: str = TEST_DATABASE_URL, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run an operator command as its own process against the shared database (``env``: the
    servers' extra settings, such as their FLASK_JWT_ALGORITHM)."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "authsvc:create_app", *args],
        env=server_env(database_url, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
