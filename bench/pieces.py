"""Time the pieces the profiles pointed at: ``uv run python -m bench.pieces``.

perf_counter loops in process on SQLite (or on ``BENCH_DATABASE_URL``, PostgreSQL), per call: the token
check, reading and rendering 100 users for /list/, and one admin page at 100, 10,000 and 100,000 users.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from authsvc.api.render import user_json
from authsvc.db import get_engine
from authsvc.extensions import get_codec
from authsvc.models import utcnow
from authsvc.services import auth
from authsvc.services.queries import iter_users, page_users
from bench import database, seed
from bench.profile import build


def per_call_us(call: Callable[[], object], count: int = 2000) -> float:
    for _ in range(count // 10):
        call()
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    app = build()
    engine = get_engine(app)
    print(f"on {database.label(engine)}")
    with app.app_context():
        token = get_codec().encode(subject="1", token_type="access", session_id="s", now=utcnow()).token
        check = per_call_us(lambda: auth.verify_access(engine=engine, codec=get_codec(), token=token))
        print(f"token check (decode + blocklist + user): {check:.0f} us")
    print(f"read 100 users for /list/: {per_call_us(lambda: list(iter_users(engine=engine))):.0f} us")
    rows = list(iter_users(engine=engine))
    print(f"render 100 users as JSON: {per_call_us(lambda: ', '.join(map(user_json, rows))):.0f} us")
    for total in (100, 10_000, 100_000):
        seed.users_up_to(engine, total, password_hash="x")
        seed.settle(engine)

        def page() -> object:
            return page_users(engine=engine, page=1, per_page=5)

        print(f"admin page at {total:,} users: {per_call_us(page, 300):.0f} us")


if __name__ == "__main__":
    main()
