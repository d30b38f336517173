"""A real authsvc for integration tests: started on a free loopback port, stopped afterwards.

``running_authsvc`` is what the pytest plugin's ``authsvc_server`` uses; call it yourself for a
server with other settings. The server is the installed ``authsvc`` package, run by gunicorn (or
``flask run``) with production settings, random secrets, a throwaway SQLite database, bcrypt cost 4
and throttling off; its stdout and stderr (access log and audit lines) go to ``log_path``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

SERVER_MODULE = "authsvc"


def server_installed() -> bool:
    """Is authsvc (the server) importable here? Checked without importing it."""
    from importlib.util import find_spec

    return find_spec(SERVER_MODULE) is not None


@dataclass(frozen=True)
class AuthsvcServer:
    """A running authsvc: its URL, its settings, its log, and its command line."""

    base_url: str
    env: dict[str, str]
    log_path: Path
    workdir: Path
    _operator: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    @property
    def introspection_url(self) -> str:
        return f"{self.base_url}/api/auth/introspect"

    @property
    def issuer(self) -> str:
        return self.env.get("FLASK_JWT_ISSUER", "authsvc")

    @property
    def audience(self) -> str:
        return self.env.get("FLASK_JWT_AUDIENCE", "authsvc")

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``flask <args>`` against this server's database, with its settings (e.g. ``keys rotate``)."""
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "authsvc:create_app", *args],
            env=self.env, cwd=self.workdir, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise RuntimeError(
                f"flask {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    def create_service_client(self, name: str) -> tuple[str, str]:
        """``flask clients create NAME``: the new service client's id and secret (for introspection)."""
        lines = dict(line.split(": ", 1) for line in self.cli("clients", "create", name).stdout.splitlines())
        return lines["client_id"], lines["client_secret"]

    def create_user(self, username: str, password: str, *, email: str, admin: bool = False) -> dict[str, Any]:
        """Make a user and return its record: by registering, or (``admin``) through ``POST
        /api/users`` as an operator admin that the first such call makes with ``flask create-user
        --admin``. One command per server, not one per admin: each costs a process start."""
        body = {"username": username, "email": email, "password": password}
        if not admin:
            response = httpx.post(f"{self.base_url}/api/auth/register", json=body, timeout=10)
        else:
            response = httpx.post(
                f"{self.base_url}/api/users", json={**body, "role": "admin"},
                headers={"Authorization": f"Bearer {self._operator_token()}"}, timeout=10,
            )  # fmt: skip
        response.raise_for_status()
        record: dict[str, Any] = response.json()
        return record

    def _operator_token(self) -> str:
        if not self._operator:
            name, password = f"operator-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
            self.cli("create-user", name, "--email", f"{name}@example.com", "--password", password, "--admin")
            self._operator.update(username=name, password=password)
        credentials = {"username": self._operator["username"], "password": self._operator["password"]}
        response = httpx.post(f"{self.base_url}/api/auth/login", json=credentials, timeout=10)
        token: str = response.raise_for_status().json()["access_token"]
        return token

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def audit_events(self, event: str | None = None) -> list[dict[str, Any]]:
        """The server's audit lines so far (one JSON object each), those of ``event`` only if given."""
        found = []
        for line in self.log_lines():
            if line.startswith('{"event"'):
                record = json.loads(line)
                if event is None or record["event"] == event:
                    found.append(record)
        return found

    def hits(self, path: str) -> int:
        """How many requests for ``path`` the access log shows so far (any method, any status)."""
        return sum(f" {path} HTTP/" in line or f" {path}?" in line for line in self.log_lines())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(workdir: Path, port: int, **settings: str) -> dict[str, str]:
    """The environment of a test server: nothing of the caller's ``FLASK_*``, then ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env.update(
        FLASK_ENVIRONMENT="production",  # what deployments run: secrets checked, no debug pages
        FLASK_DATABASE_URL=f"sqlite:///{workdir / 'authsvc.sqlite3'}",
        FLASK_INSTANCE_PATH=str(workdir / "instance"),
        FLASK_SECRET_KEY=secrets.token_urlsafe(48),
        FLASK_JWT_SECRET_KEY=secrets.token_urlsafe(48),
        FLASK_JWT_ALGORITHM="ES256",  # asymmetric, so the JWKS has keys for verifiers
        FLASK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        FLASK_BCRYPT_ROUNDS="4",
        FLASK_RATELIMIT_ENABLED="false",
    )
    env.update(settings)
    return env


@contextmanager
def running_authsvc(
    workdir: Path,
    settings: Mapping[str, str] | None = None,
    *,
    runner: Literal["gunicorn", "flask"] = "gunicorn",
    threads: int = 8,
    **more: str,
) -> Iterator[AuthsvcServer]:
    """Start authsvc in ``workdir`` (its database, instance folder and log live there), wait for
    ``/health``, yield it, stop it. ``settings`` and ``more`` are ``FLASK_*`` variables that win over
    the defaults (``FLASK_JWT_ACCESS_TOKEN_EXPIRES="2"``, ``FLASK_JWT_ALGORITHM="EdDSA"``, ...).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = server_env(workdir, port, **{**(settings or {}), **more})
    server = AuthsvcServer(f"http://127.0.0.1:{port}", env, workdir / "server.log", workdir)
    if not env["FLASK_DATABASE_URL"].startswith("sqlite"):
        server.cli("init-db")  # only a SQLite file is migrated by the server itself
    if runner == "gunicorn":
        command = [
            sys.executable, "-m", "gunicorn", "-c", "python:authsvc.gunicorn_conf", "-b", f"127.0.0.1:{port}",
            "-w", "1", "--threads", str(threads), "authsvc:create_app()",
        ]  # fmt: skip
    else:
        command = [sys.executable, "-m", "flask", "--app", "authsvc:create_app", "run", "-p", str(port)]
    with server.log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: AuthsvcServer, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"authsvc exited with {process.returncode}:\n{server.log_path.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"authsvc did not answer /health within {timeout} s:\n{server.log_path.read_text()}")
