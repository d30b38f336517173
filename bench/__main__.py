"""One command, ``uv run python -m bench``: start servers, seed, load them with wrk, print the table.

``BENCH_QUICK=1`` measures only the first three rows, for quick iterations.

Set ``BENCH_DATABASE_URL`` (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run the suite on
PostgreSQL as well as SQLite; ``BENCH_DURATION`` (seconds per measurement, default 5).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from authsvc.security import PasswordHasher
from bench import database, loadgen, seed
from bench.servers import Server, peak_above_idle_mb, reset_peaks

PASSWORD = "bench-password-123"
SECRET = "bench-jwt-secret-0123456789abcdef0123456789"
ROUNDS = 12


class Table:
    def __init__(self, baseline: loadgen.Result) -> None:
        self.baseline = baseline
        self.rows: list[str] = []

    def add(
        self, label: str, result: loadgen.Result | None = None, note: str = "", ratio: str | None = None
    ) -> None:
        if result is None:
            self.rows.append(f"| {label} | | | | {ratio or ''} | {note} |")
            return
        ratio = ratio or f"{result.rps / self.baseline.rps:.2f}x"
        errors = f"; {result.non_2xx} non-2xx" if result.non_2xx else ""
        figures = f"{result.rps:,.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f}"
        self.rows.append(f"| {label} | {figures} | {ratio} | {note}{errors} |")
        print(self.rows[-1], file=sys.stderr, flush=True)

    def render(self) -> str:
        head = (
            "| measurement | req/s | p50 ms | p99 ms | ratio to bare | notes |\n|---|---:|---:|---:|---:|---|"
        )
        return head + "\n" + "\n".join(self.rows)


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def bcrypt_verify_seconds(password_hash: str) -> float:
    hasher = PasswordHasher(ROUNDS)
    timings = []
    for _ in range(8):
        started = time.perf_counter()
        hasher.verify(PASSWORD, password_hash)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run_database(label: str, url: str, work: Path, table: Table, duration: int) -> None:
    engine = database.fresh(url)
    password_hash = PasswordHasher(ROUNDS).hash(PASSWORD)
    seed.users_up_to(engine, 100, password_hash=password_hash)
    seed.make_admin(engine, "user1")

    env = {
        "FLASK_ENVIRONMENT": "production",
        "FLASK_DATABASE_URL": url,
        "FLASK_JWT_SECRET_KEY": SECRET,
        "FLASK_SECRET_KEY": SECRET + "-flask",
        "FLASK_BCRYPT_ROUNDS": str(ROUNDS),
        "FLASK_RATELIMIT_ENABLED": "false",
        "FLASK_INSTANCE_PATH": str(work / "instance"),
        "FLASK_JWT_ACCESS_TOKEN_EXPIRES": "3600",
    }
    server = Server("authsvc:create_app()", env=env, log=work / f"authsvc-{label}.log")
    try:
        base = server.base
        token = post_json(base + "/token/", {"username": "user1", "password": PASSWORD})["access"]
        bearer = {"Authorization": f"Bearer {token}"}
        run = lambda path, c=16, **kw: loadgen.run(base + path, connections=c, duration=duration, **kw)  # noqa: E731

        table.add(f"{label}: GET /list/ (100 users)", run("/list/", headers=bearer))
        whoami_empty = run("/api/auth/whoami", headers=bearer)
        table.add(f"{label}: GET /api/auth/whoami", whoami_empty)
        table.add(
            f"{label}: GET /list/ 401 (bad token)", run("/list/", headers={"Authorization": "Bearer x.y.z"})
        )

        if os.environ.get("BENCH_QUICK"):
            return
        verify = bcrypt_verify_seconds(password_hash)
        cores = os.cpu_count() or 1
        ceiling = cores / verify
        body = json.dumps({"username": "user2", "password": PASSWORD})
        sign_in = loadgen.run(
            base + "/token/", connections=4, duration=max(duration, 10), method="POST", body=body,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        table.add(
            f"{label}: POST /token/ (bcrypt cost {ROUNDS})",
            sign_in,
            note=f"ceiling {ceiling:.1f}/s = {cores} cores / {verify * 1000:.0f} ms per verify",
            ratio=f"{sign_in.rps / ceiling:.0%} of ceiling",
        )

        page = run("/api/users/all?page=1&per_page=5", c=4, headers=bearer)
        table.add(f"{label}: GET /api/users/all, 100 users", page)
        for total in (10_000, 100_000):
            seed.users_up_to(engine, total, password_hash=password_hash)
            seed.settle(engine)
            result = run("/api/users/all?page=1&per_page=5", c=4, headers=bearer)
            table.add(
                f"{label}: GET /api/users/all, {total:,} users",
                result,
                note=f"p50 {result.p50_ms / page.p50_ms:.2f}x the 100-user page",
            )

        user_ids = list(range(1, 101))
        seed.revocations(engine, blocklist_rows=1_000_000, sessions=100_000, user_ids=user_ids)
        seed.settle(engine)
        whoami_full = run("/api/auth/whoami", headers=bearer)
        table.add(
            f"{label}: whoami, 1M blocklist rows + 100k sessions",
            whoami_full,
            note=f"{whoami_full.rps / whoami_empty.rps - 1:+.1%} req/s vs empty tables",
        )

        run("/health", c=2)  # warm both workers before taking the idle baseline
        idle = reset_peaks(server.workers())
        big = loadgen.run(
            base + "/list/", connections=2, duration=max(duration, 5), headers=bearer, timeout=60
        )
        table.add(
            f"{label}: GET /list/ (100,000 users)",
            big,
            note=f"peak worker memory {peak_above_idle_mb(idle):.0f} MB above idle",
        )
    finally:
        server.stop()
    if engine.dialect.name != "sqlite":
        # What the pool's pre-ping (one extra round trip per request) costs on a networked database.
        server = Server("authsvc:create_app()", env={**env, "FLASK_DB_POOL_PRE_PING": "false"},
                        log=work / f"authsvc-{label}-noping.log")  # fmt: skip
        try:
            for path, name in (("/api/auth/whoami", "whoami"), ("/list/", "GET /list/ (100,000 users)")):
                result = loadgen.run(
                    server.base + path, connections=16 if name == "whoami" else 2, duration=duration,
                    headers=bearer, timeout=60,
                )  # fmt: skip
                table.add(f"{label}: {name}, pool pre-ping off", result)
        finally:
            server.stop()
    engine.dispose()


def main() -> None:
    loadgen.require_wrk()
    duration = int(os.environ.get("BENCH_DURATION", "5"))
    work = Path(tempfile.mkdtemp(prefix="authsvc-bench-"))
    bare = Server("bench.bare:app", env={}, log=work / "bare.log", probe="/list/")
    try:
        baseline = loadgen.run(bare.base + "/list/", connections=16, duration=duration)
    finally:
        bare.stop()
    table = Table(baseline)
    table.add("bare Flask: same 100-user JSON, no auth, no database", baseline, ratio="1.00x")
    run_database("SQLite", f"sqlite:///{work / 'bench.sqlite3'}", work, table, duration)
    if postgres := database.postgres_url():
        run_database("PostgreSQL", postgres, work, table, duration)
    machine = f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"authsvc benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine}, wrk {duration}s per row\n")
    print(table.render())


if __name__ == "__main__":
    main()
