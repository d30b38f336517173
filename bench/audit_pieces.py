"""What the audit row costs a write transaction, piece by piece:
``uv run python -m bench.audit_pieces [transactions] [rounds]``.

On the app's own engine (built as ``bench.profile`` does: a fresh SQLite file, or ``BENCH_DATABASE_URL``,
every table in it dropped), each variant runs ``transactions`` transactions of one
``UPDATE auth_session`` (a random seeded session) and a commit, as refresh and logout end, and adds:

- ``base``: nothing (the transaction without an audit row);
- ``shipped``: ``audit._INSERT`` as ``audit.record`` executes it (on PostgreSQL SQLAlchemy adds
  ``RETURNING audit_event.id``, to fill ``inserted_primary_key``, which nothing reads);
- ``inline``: ``audit._INSERT.inline()``, the same INSERT without ``RETURNING``;
- ``driver``: the same row through ``exec_driver_sql``, its SQL text prebuilt and ``details``
  serialised by hand (no statement cache lookup, no bind processors).

The variants take turns, their order reversed every round, and each figure is the median over the
rounds of wall and CPU time (this process's: on SQLite the database's work too) per transaction.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, text

from authsvc import audit
from authsvc.db import get_engine
from authsvc.extensions import get_codec
from authsvc.models import utcnow
from bench import database, tokens
from bench.profile import build

COLUMNS = ("time", "event", "outcome", "user_id", "session_id", "ip", "user_agent", "request_id", "details")
UPDATE = text("UPDATE auth_session SET last_used_at = :now WHERE id = :id")


def row(session_id: str) -> dict[str, Any]:
    """An audit row as ``audit.record`` builds it for a refresh."""
    return {
        "time": utcnow(), "event": "refresh", "outcome": "success", "user_id": 1,
        "session_id": session_id, "ip": "127.0.0.1", "user_agent": "bench",
        "request_id": "0123456789abcdef0123456789abcdef", "details": {},
    }  # fmt: skip


def driver_insert(engine: Engine) -> Callable[[Connection, dict[str, Any]], None]:
    """The row through the driver: prebuilt SQL, ``details`` as JSON text, SQLite's time as text."""
    names = ", ".join(COLUMNS)
    if engine.dialect.name == "sqlite":
        sql = f"INSERT INTO audit_event ({names}) VALUES ({', '.join('?' for _ in COLUMNS)})"

        def insert(connection: Connection, values: dict[str, Any]) -> None:
            values = {**values, "time": values["time"].replace(tzinfo=None).isoformat(" ")}
            values["details"] = json.dumps(values["details"])
            connection.exec_driver_sql(sql, tuple(values[name] for name in COLUMNS))

        return insert
    marks = ", ".join(f"%({name})s" for name in COLUMNS).replace("%(details)s", "%(details)s::json")
    sql = f"INSERT INTO audit_event ({names}) VALUES ({marks})"

    def insert_pg(connection: Connection, values: dict[str, Any]) -> None:
        connection.exec_driver_sql(sql, {**values, "details": json.dumps(values["details"])})

    return insert_pg


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    app = build()
    engine = get_engine(app)
    with app.app_context():
        pairs = tokens.fresh_pairs(engine, get_codec(), count=5000, user_ids=list(range(1, 101)))
    sessions = [pair.session_id for pair in pairs]
    inline = audit._INSERT.inline()
    driver = driver_insert(engine)
    variants: dict[str, Callable[[Connection, dict[str, Any]], object] | None] = {
        "base": None,
        "shipped": lambda connection, values: connection.execute(audit._INSERT, values),
        "inline": lambda connection, values: connection.execute(inline, values),
        "driver": driver,
    }
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for n in range(rounds + 1):  # round 0 warms every variant and is not counted
        for name in list(variants)[:: 1 if n % 2 else -1]:
            add = variants[name]
            started, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                sid = random.choice(sessions)
                with engine.begin() as connection:
                    connection.execute(UPDATE, {"now": utcnow(), "id": sid})
                    if add is not None:
                        add(connection, row(sid))
            if n:
                wall[name].append((time.perf_counter() - started) / count * 1e6)
                cpu[name].append((time.process_time() - started_cpu) / count * 1e6)
    print(f"{database.label(engine)}: {count} transactions x {rounds} rounds per variant, medians")
    base_wall, base_cpu = statistics.median(wall["base"]), statistics.median(cpu["base"])
    for name in variants:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"  {name:8} wall {w:6.0f} us ({w - base_wall:+5.0f})   CPU {c:6.0f} us ({c - base_cpu:+5.0f})")


if __name__ == "__main__":
    main()
