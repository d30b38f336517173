"""Attacks only a real server sees: bytes on a socket that the test client would tidy up first.

The app is served by werkzeug's own server in a thread on 127.0.0.1, and requests are written by hand,
so invalid UTF-8 reaches the request line, the headers and the body exactly as an attacker sends it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from authsvc.models import Role, User
from tests.conftest import login

SURROGATE_BYTES = b"\xed\xa0\x80"  # what U+D800 would be in UTF-8, were it allowed: invalid UTF-8


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

    def send(raw: bytes) -> Answer:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
            sock.sendall(raw)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines)
        return Answer(int(status_line.split()[1]), headers, body)

    yield send
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


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
def admin_token(make_user: Callable[..., User], client) -> str:  # noqa: ANN001
    make_user("admin", role=Role.ADMIN)
    return login(client, "admin")["access_token"]


# --- item 6: a lone surrogate, or its invalid UTF-8 bytes, never a 500 ---


def test_surrogate_bytes_in_a_login_body_are_a_validation_error(wire):
    body = b'{"username": "' + SURROGATE_BYTES + b'", "password": "x"}'
    answer = wire(request("POST", b"/api/auth/login", body))
    assert assert_json_error(answer, 400, "validation_error")["errors"][0]["loc"] == ["body", "username"]


def test_surrogate_escape_in_a_token_body_is_the_section_1_refusal(wire):
    answer = wire(request("POST", b"/token/", b'{"username": "\\ud800", "password": "x"}'))
    assert (answer.status, answer.body) == (401, b'{"detail": "Invalid username or password"}')
    refresh = wire(request("POST", b"/token/refresh/", b'{"refresh": "' + SURROGATE_BYTES + b'"}'))
    assert (refresh.status, refresh.body) == (401, b'{"detail": "Token is invalid or expired"}')


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
    assert (listed.status, listed.body) == (401, b'{"detail": "Invalid username or password."}')
