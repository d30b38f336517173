"""One database's run: its engine and settings, the servers under test, and its rows.

Rows find their floor (the bare + query measurement of the same work) by key in ``found``.
"""

from __future__ import annotations

import json
import secrets
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from authsvc.weak_secrets import why_weak
from bench.measure import measure, warm
from bench.servers import Server
from bench.table import Measurement, Table

PASSWORD = "bench-password-123"


def random_key() -> str:
    """A key production settings accept: random, and (rarely matters) no well-known word inside."""
    while why_weak(key := secrets.token_urlsafe(48)):
        pass
    return key


# Made for each run: production settings refuse a key with a word in it, as any fixed one would have.
SECRET, FLASK_SECRET = random_key(), random_key()
ROUNDS = 12


def versus_empty(measured: Measurement, empty: Measurement | None) -> str:
    """The note comparing a row on full tables with the same request on (nearly) empty ones."""
    if empty is None:
        return "no empty-table figure in this run"
    cpu = measured.cost.total_ms / empty.cost.total_ms - 1
    return f"{measured.rps / empty.rps - 1:+.1%} req/s, {cpu:+.1%} CPU per request vs empty tables"


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def server_env(url: str, work: Path) -> dict[str, str]:
    """authsvc's settings for every server of the run: production, bcrypt cost 12, no throttling."""
    return {
        "FLASK_ENVIRONMENT": "production",
        "FLASK_DATABASE_URL": url,
        "FLASK_JWT_SECRET_KEY": SECRET,
        "FLASK_SECRET_KEY": FLASK_SECRET,
        "FLASK_BCRYPT_ROUNDS": str(ROUNDS),
        "FLASK_RATELIMIT_ENABLED": "false",
        "FLASK_INSTANCE_PATH": str(work / "instance"),
        "FLASK_JWT_ACCESS_TOKEN_EXPIRES": "3600",
    }


@dataclass
class Run:
    label: str  # "SQLite" or "PostgreSQL"
    url: str
    engine: Engine
    work: Path
    duration: int
    table: Table
    password_hash: str
    quick: bool = False
    env: dict[str, str] = field(init=False)
    found: dict[str, Measurement] = field(default_factory=dict)
    _authsvc: Server | None = None
    _token: str | None = None
    _warm: set[tuple[int, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.env = server_env(self.url, self.work)

    @property
    def postgres(self) -> str | None:
        """The PostgreSQL database's name, whose processes' CPU counts; None on SQLite."""
        return None if self.engine.dialect.name == "sqlite" else make_url(self.url).database

    def server(self, app: str, name: str, *, probe: str = "/health", **options: Any) -> Server:
        """Start another server on this run's database (the caller stops it)."""
        env = {**self.env, "BARE_DATABASE_URL": self.url, **options.pop("env", {})}
        return Server(app, env=env, log=self.work / f"{name}-{self.label}.log", probe=probe, **options)

    def authsvc(self) -> Server:
        """authsvc under 2 sync workers, started on first use and kept for the run."""
        if self._authsvc is None:
            self._authsvc = self.server("authsvc:create_app()", "authsvc")
        return self._authsvc

    def stop_authsvc(self) -> None:
        if self._authsvc is not None:
            self._authsvc.stop()
            self._authsvc = None

    def admin_bearer(self) -> dict[str, str]:
        """An access token of ``user1`` (the admin), signed in once for the run."""
        if self._token is None:
            answer = post_json(self.authsvc().base + "/token/", {"username": "user1", "password": PASSWORD})
            self._token = answer["access"]
        return {"Authorization": f"Bearer {self._token}"}

    def measure(self, server: Server, path: str, *, warmed: bool = True, **wrk: Any) -> Measurement:
        """A measured run; a static GET is first warmed on this server unless ``warmed`` is False (a
        worker's first requests on a route cost more, and would weigh on a short run)."""
        static_get = wrk.get("method", "GET") == "GET" and "script" not in wrk
        if warmed and static_get and (server.process.pid, path) not in self._warm:
            warm(server.base + path, wrk.get("headers") or {})
            self._warm.add((server.process.pid, path))
        wrk.setdefault("duration", self.duration)
        engine = None if self.postgres is None else self.engine
        return measure(server, path, database=self.postgres, engine=engine, **wrk)

    def add(
        self,
        name: str,
        measured: Measurement,
        *,
        key: str | None = None,
        floor: str | None = None,
        **row: Any,
    ) -> Measurement:
        """Print a row labelled with the database; ``key`` files it for later rows, ``floor`` names
        the filed bare + query measurement it is compared with."""
        if key is not None:
            self.found[key] = measured
        self.table.add(f"{self.label}: {name}", measured, floor=self.found.get(floor or ""), **row)
        return measured
