"""Attacks only a real server sees: bytes on a socket that the test client would tidy up first.

The app is served by werkzeug's own server in a thread on 127.0.0.1, and requests are written by hand,
so invalid UTF-8 reaches the request line, the headers and the body exactly as an attacker sends it.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from authsvc.config import Settings
from authsvc.models import Role, User
from tests.conftest import login, make_settings
from tests.helpers import BAD_LOGIN, BAD_REFRESH, BAD_TOKEN, PASSWORD
from tests.system.conftest import free_port, server_env, wait_until_up

SURROGATE_BYTES = b"\xed\xa0\x80"  # what U+D800 would be in UTF-8, were it allowed: invalid UTF-8
LIMIT = 4096  # FLASK_MAX_CONTENT_LENGTH here: small, so over-limit bodies are quick to send
TOO_LARGE = {"detail": "The request body is too large.", "code": "payload_too_large"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, max_content_length=LIMIT)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def wire(app: Flask) -> Iterator[Callable[[bytes], Answer]]:
    """Send raw bytes to the app behind a real HTTP server; get the parsed answer back."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    yield lambda raw: send_raw(server.server_port, raw)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def send_raw(port: int, raw: bytes) -> Answer:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    if headers.get("Transfer-Encoding") == "chunked":  # an answer may be chunked too
        body = dechunk(body)
    return Answer(int(status_line.split()[1]), headers, body)


def dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


def chunked(method: str, target: bytes, body: bytes, chunk_size: int) -> bytes:
    """A request whose body is sent with Transfer-Encoding: chunked and no Content-Length."""
    head = (
        method.encode() + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunks = [body[at : at + chunk_size] for at in range(0, len(body), chunk_size)]
    return head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def credentials_of_size(size: int, password: str = "wrong-password") -> bytes:
    """A sign-in body of exactly ``size`` bytes (padded with an ignored field)."""
    body = json.dumps({"username": "admin", "password": password, "pad": ""}).encode()
    return body[:-2] + b"p" * (size - len(body)) + b'"}'


def request(method: str, target: bytes, body: bytes = b"", **headers: bytes | str) -> bytes:
    """A raw HTTP/1.1 request (closing the connection after the answer)."""
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    if body:
        lines += [b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    for name, value in headers.items():
        lines.append(
            name.replace("_", "-").encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def assert_json_error(answer: Answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status == status, answer.body[:300]
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert body["code"] == code, body
    return body


@pytest.fixture
def admin_token(make_user: Callable[..., User], client) -> str:
    make_user("admin", role=Role.ADMIN)
    return login(client, "admin")["access_token"]


# --- item 6: a lone surrogate, or its invalid UTF-8 bytes, never a 500 ---


def test_surrogate_bytes_in_a_login_body_are_a_validation_error(wire):
    body = b'{"username": "' + SURROGATE_BYTES + b'", "password": "x"}'
    answer = wire(request("POST", b"/api/auth/login", body))
    assert assert_json_error(answer, 400, "validation_error")["errors"][0]["loc"] == ["body", "username"]


def test_surrogate_escape_in_a_token_body_is_the_section_1_refusal(wire):
    answer = wire(request("POST", b"/token/", b'{"username": "\\ud800", "password": "x"}'))
    assert (answer.status, answer.body) == (401, BAD_LOGIN)
    refresh = wire(request("POST", b"/token/refresh/", b'{"refresh": "' + SURROGATE_BYTES + b'"}'))
    assert (refresh.status, refresh.body) == (401, BAD_REFRESH)


@pytest.mark.parametrize(
    "target",
    # (raw ED A0 80 cannot be used here: http.server splits the request line at A0, latin-1's NBSP)
    [b"/api/users/%ED%A0%80", b"/api/users/\xed\xbf\xbf", b"/api/" + b"\xff\xfe", b"/%C0%80"],
    ids=["percent-encoded-surrogate", "raw-surrogate-bytes", "raw-ff-fe", "overlong-nul"],
)
def test_invalid_utf8_in_a_path_is_not_found(wire, admin_token, target):
    answer = wire(request("GET", target, Authorization=f"Bearer {admin_token}"))
    assert_json_error(answer, 404, "not_found")


def test_invalid_utf8_in_a_query_string_matches_nothing(wire, admin_token):
    answer = wire(request("GET", b"/api/users/all?q=%ED%A0%80&q=%FF", Authorization=f"Bearer {admin_token}"))
    assert answer.status == 200, answer.body[:300]
    assert answer.json()["total"] == 0


@pytest.mark.parametrize(
    "value",
    [b"Bearer " + SURROGATE_BYTES, b"Bearer \xff\xfe", SURROGATE_BYTES],
    ids=["surrogate-bytes-as-token", "ff-fe-as-token", "surrogate-bytes-as-scheme"],
)
def test_invalid_utf8_in_the_authorization_header_is_refused(wire, value):
    assert_json_error(wire(request("GET", b"/api/auth/whoami", Authorization=value)), 401, "invalid_token")
    listed = wire(request("GET", b"/list/", Authorization=value))
    assert (listed.status, listed.body) == (401, BAD_TOKEN)


# --- item 13c: a body over FLASK_MAX_CONTENT_LENGTH is 413 however it is framed ---

BODY_ENDPOINTS = [b"/api/auth/login", b"/token/", b"/api/auth/register", b"/token/refresh/"]


@pytest.mark.parametrize("chunk_size", [LIMIT * 2, 100], ids=["one-chunk", "many-chunks"])
@pytest.mark.parametrize("target", BODY_ENDPOINTS, ids=lambda t: t.decode())
def test_an_oversized_chunked_body_is_413(wire, target, chunk_size):
    answer = wire(chunked("POST", target, credentials_of_size(LIMIT + 1), chunk_size))
    assert (answer.status, answer.json()) == (413, TOO_LARGE)


def test_an_oversized_chunked_body_gets_the_content_length_answer(wire):
    body = credentials_of_size(LIMIT + 1)
    by_length = wire(request("POST", b"/api/auth/login", body))
    by_chunks = wire(chunked("POST", b"/api/auth/login", body, 1000))
    assert by_length.status == by_chunks.status == 413
    assert by_length.body == by_chunks.body


@pytest.mark.parametrize("size", [LIMIT, LIMIT - 1, 60], ids=["exactly-the-limit", "one-under", "small"])
def test_a_chunked_body_within_the_limit_is_read_whole(wire, make_user, size):
    make_user("admin")
    wrong = wire(chunked("POST", b"/api/auth/login", credentials_of_size(size), 100))
    assert_json_error(wrong, 401, "invalid_credentials")
    right = wire(chunked("POST", b"/api/auth/login", credentials_of_size(max(size, 80), PASSWORD), 100))
    assert right.status == 200, right.body[:300]


def test_an_oversized_streamed_body_is_413_through_the_test_client(client: FlaskClient):
    """The test client sends no chunks; this is what a dechunking server hands the app: the header,
    a stream it ends itself (wsgi.input_terminated), and a length no one may trust."""
    response = client.post(
        "/api/auth/login",
        input_stream=io.BytesIO(credentials_of_size(LIMIT + 1)),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert (response.status_code, response.get_json()) == (413, TOO_LARGE)


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The production server (gunicorn, this repository's config) on a SQLite file of its own."""
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    port, log = free_port(), tmp_path / "server.log"
    env = server_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        FLASK_INSTANCE_PATH=str(tmp_path / "instance"),
        FLASK_MAX_CONTENT_LENGTH=str(LIMIT),
        FLASK_RATELIMIT_ENABLED="false",
    )
    command = [
        sys.executable, "-m", "gunicorn", "-c", "python:authsvc.gunicorn_conf",
        "-b", f"127.0.0.1:{port}", "-w", "1", "--threads", "2", "authsvc:create_app()",
    ]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process, log)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.parametrize("chunk_size", [LIMIT * 2, 100], ids=["one-chunk", "many-chunks"])
def test_an_oversized_chunked_body_is_413_under_gunicorn(gunicorn, chunk_size):
    answer = send_raw(
        gunicorn, chunked("POST", b"/api/auth/login", credentials_of_size(LIMIT + 1), chunk_size)
    )
    assert (answer.status, answer.json()) == (413, TOO_LARGE)
    within = send_raw(gunicorn, chunked("POST", b"/api/auth/login", credentials_of_size(LIMIT), chunk_size))
    assert within.status == 401, within.body[:300]
