"""Profile one endpoint in process: ``uv run python -m bench.profile /list/ [requests]``.

``/api/auth/refresh`` and ``/api/auth/logout`` are sent as POSTs with a fresh session's token each.

Builds the app on a fresh SQLite file, or on ``BENCH_DATABASE_URL`` (PostgreSQL; every table in it is
dropped), with 100 users (bcrypt cost 4, so seeding is quick), signs in, prints the time per request
without a profiler, then a pyinstrument profile of the same loop.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from pyinstrument import Profiler

from authsvc import create_app
from authsvc.config import Settings
from authsvc.db import get_engine
from authsvc.extensions import get_codec
from authsvc.security import PasswordHasher
from bench import database, seed, tokens

PASSWORD = "bench-password-123"
SPENDING = {"/api/auth/refresh": "refresh", "/api/auth/logout": "access"}  # path -> the token it spends


def build() -> Flask:
    """The app on a fresh, migrated database holding 100 users; ``user1`` is an admin."""
    work = Path(tempfile.mkdtemp(prefix="authsvc-profile-"))
    url = database.postgres_url() or f"sqlite:///{work / 'profile.sqlite3'}"
    database.fresh(url).dispose()
    settings = Settings(
        environment="production",
        instance_path=work,
        database_url=url,
        jwt_secret_key="profile-jwt-secret-0123456789abcdef0123",
        secret_key="profile-flask-secret-0123456789abcdef012",
        bcrypt_rounds=4,
        ratelimit_enabled=False,
        # BENCH_JWT_ALGORITHM=ES256 (or EdDSA, RS256) profiles the same request under stored keys.
        jwt_algorithm=os.environ.get("BENCH_JWT_ALGORITHM", "HS256"),
    )
    app = create_app(settings)
    engine = get_engine(app)
    seed.users_up_to(engine, 100, password_hash=PasswordHasher(4).hash(PASSWORD))
    seed.make_admin(engine, "user1")
    return app


def requests(app: Flask, path: str, count: int) -> Callable[[], object]:
    """One call per request: a GET with user1's access token or, for the paths that spend a token
    (refresh, logout), a POST with a fresh session's token each time, as ``bench`` sends them."""
    client = app.test_client()
    spends = SPENDING.get(path)
    if spends is None:
        token = client.post("/token/", json={"username": "user1", "password": PASSWORD}).get_json()["access"]
        headers = {"Authorization": f"Bearer {token}"}
        return lambda: client.get(path, headers=headers)
    with app.app_context():
        pairs = tokens.fresh_pairs(get_engine(app), get_codec(), count=count, user_ids=list(range(1, 101)))
    fresh = iter([(pair.refresh if spends == "refresh" else pair.access).token for pair in pairs])
    return lambda: client.post(path, headers={"Authorization": f"Bearer {next(fresh)}"})


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "/list/"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    app = build()
    send = requests(app, path, 100 + 2 * count)
    for _ in range(100):
        send()
    started = time.perf_counter()
    for _ in range(count):
        send()
    where = database.label(get_engine(app))
    per_request = (time.perf_counter() - started) / count * 1e6
    print(f"{path}: {per_request:.0f} us per request ({where}, test client)\n")
    profiler = Profiler(interval=0.0002)
    with profiler:
        for _ in range(count):
            send()
    print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
