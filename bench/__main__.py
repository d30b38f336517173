"""One command, ``uv run python -m bench``: start servers, seed, load them with wrk, print the table.

``BENCH_DATABASE_URL`` (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/authsvc_bench) runs every
row on PostgreSQL as well as SQLite (every table in it is dropped); ``BENCH_DURATION`` is the seconds
per measurement (default 5); ``BENCH_QUICK=1`` measures a fast subset; ``BENCH_ONLY`` names the row
groups (and/or the databases) to run, comma-separated: see ``GROUPS`` and docs/benchmarks.md.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from authsvc.security import PasswordHasher
from bench import algorithms, audit, database, durability, floors, production, reads, scale, seed, writes
from bench.loadgen import require_wrk
from bench.measure import measure
from bench.servers import Server
from bench.suite import PASSWORD, ROUNDS, Run, server_env
from bench.table import Table

# In the order they run: each group leaves the tables as the next expects (100 users until "pages").
GROUPS: dict[str, Callable[[Run], None]] = {
    "floors": floors.floors,  # bare + query: the floor of each endpoint below
    "reads": reads.reads,  # /list/, whoami, a refused token
    "algorithms": algorithms.algorithms,  # whoami and /list/ under HS256, ES256, EdDSA
    "gthread": production.production,  # the production server, keep-alive
    "arenas": production.arenas,  # the production server: 2 malloc arenas a worker against glibc's own limit
    "signin": writes.signin,  # POST /token/
    "writes": writes.writes,  # refresh, logout, register
    "synchronous": durability.synchronous,  # SQLite: the write rows under synchronous=NORMAL, then FULL
    "audit": audit.audit,  # sign-in, refresh, logout with and without the audit row, interleaved
    "pages": reads.pages,  # the admin page at 100 to 100,000 users
    "blocklist": reads.blocklist,  # whoami over 1M blocklist rows
    "biglist": reads.biglist,  # /list/ of 100,000 users, memory
    "preping": reads.preping,  # PostgreSQL: the pool's pre-ping off
    "scale": scale.scale,  # PostgreSQL: 1M users, 10M blocklist rows
}
QUICK = ("floors", "reads", "writes")  # and within them only the quick rows
DATABASES = ("sqlite", "postgresql")


def selection() -> tuple[list[str], list[str]]:
    """The groups and databases to run, from ``BENCH_ONLY`` and ``BENCH_QUICK``."""
    only = [name.strip().lower() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()]
    unknown = sorted(set(only) - set(GROUPS) - set(DATABASES))
    if unknown:
        raise SystemExit(
            f"BENCH_ONLY: unknown {', '.join(unknown)}; known: {', '.join([*GROUPS, *DATABASES])}"
        )
    groups = [name for name in GROUPS if name in only] or list(GROUPS)
    if os.environ.get("BENCH_QUICK"):
        groups = [name for name in groups if name in QUICK]
    databases = [name for name in DATABASES if name in only] or list(DATABASES)
    return groups, databases


def bare_rows(table: Table, work: Path, duration: int, *, gthread: bool) -> None:
    """bare Flask, no database: every "vs bare Flask" ratio divides by the sync row."""
    bare = Server("bench.bare:app", env={}, log=work / "bare.log", probe="/list/")
    try:
        table.baseline = measure(bare, "/list/", database=None, duration=duration)
    finally:
        bare.stop()
    table.add("bare Flask: same 100-user JSON, no auth, no database", table.baseline)
    if not gthread:
        return
    env = server_env(f"sqlite:///{work / 'unused.sqlite3'}", work)  # the config checks authsvc's settings
    bare = Server("bench.bare:app", env=env, log=work / "bare-gthread.log", probe="/list/", production=True)
    try:
        kept = measure(bare, "/list/", database=None, duration=duration)
    finally:
        bare.stop()
    table.add("bare Flask, gthread keep-alive: same JSON", kept)


def run_database(label: str, url: str, work: Path, table: Table, groups: list[str], duration: int) -> None:
    engine = database.fresh(url)
    password_hash = PasswordHasher(ROUNDS).hash(PASSWORD)
    seed.users_up_to(engine, 100, password_hash=password_hash)
    seed.make_admin(engine, "user1")
    run = Run(
        label, url, engine, work, duration, table, password_hash, quick=bool(os.environ.get("BENCH_QUICK"))
    )
    try:
        for name in groups:
            GROUPS[name](run)
    finally:
        run.stop_authsvc()
        engine.dispose()
        if engine.dialect.name == "sqlite":  # a quarter of a gigabyte by the end; the logs stay
            for path in work.glob(f"{Path(engine.url.database or '').name}*"):
                path.unlink()


def main() -> None:
    # Stopped with SIGTERM, still stop the servers (the finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    require_wrk()
    groups, databases = selection()
    duration = int(os.environ.get("BENCH_DURATION", "5"))
    work = Path(tempfile.mkdtemp(prefix="authsvc-bench-"))
    table = Table()
    bare_rows(table, work, duration, gthread="gthread" in groups)
    if "sqlite" in databases:
        run_database("SQLite", f"sqlite:///{work / 'bench.sqlite3'}", work, table, groups, duration)
    if "postgresql" in databases:
        if postgres := database.postgres_url():
            run_database("PostgreSQL", postgres, work, table, groups, duration)
        else:
            print("bench: no BENCH_DATABASE_URL, so no PostgreSQL rows", file=sys.stderr)
    machine = f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"authsvc benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine}, wrk {duration}s per row")
    print(f"groups: {', '.join(groups)}\n")
    print(table.render())


if __name__ == "__main__":
    main()
