"""The load's HTTP client: one keep-alive connection per thread, to loopback only, every request timed
and recorded. A request with no answer (reset, refused, timed out) is status 0, never an exception."""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Callable
from typing import Any

from bench.soak.records import Call, Records, Token

TIMEOUT = 10.0  # seconds: bounds every request, so every loop that sends one is bounded in time
IDLE = 2.0  # reconnect rather than reuse a connection idle this long (the server keeps it 5 s)


def claims(raw: str) -> dict[str, Any]:
    """A JWT's claims, unverified: the client only files what the server handed it."""
    payload = raw.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def file_token(records: Records, raw: str) -> Token:
    found = claims(raw)
    token = Token(found["jti"], found["sid"], found["type"], float(found["exp"]), raw)
    records.tokens[token.jti] = token
    return token


class Http:
    def __init__(self, port: int, records: Records, clock: Callable[[], float]) -> None:
        self.port = port
        self.records = records
        self.clock = clock
        self._connection: http.client.HTTPConnection | None = None
        self._last = 0.0

    def call(
        self, kind: str, method: str, path: str, *, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """Send one request; record it as ``kind``. Returns (status, parsed JSON body or None)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        started = self.clock()
        status, parsed = self._send(method, path, data, headers)
        self.records.calls.append(Call(kind, started, self.clock(), status))
        return status, parsed

    def _send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
        if self._connection is None or time.monotonic() - self._last > IDLE:
            self.close()
            self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            self._connection.request(method, path, body=data, headers=headers)
            response = self._connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return 0, None
        self._last = time.monotonic()
        if response.will_close:
            self.close()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
