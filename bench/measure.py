"""Measuring one server: a bounded wrk run with CPU snapshots of the server (and, on PostgreSQL, of
the database) on either side, and the connections the database saw opened meanwhile."""

from __future__ import annotations

import urllib.request
from typing import Any

from sqlalchemy import Engine

from bench import cpu, loadgen
from bench.servers import Server
from bench.table import Measurement

WARM_REQUESTS = 20
SESSIONS = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"


def sessions_started(engine: Engine | None) -> int | None:
    """PostgreSQL's count of sessions ever established to the database (None without one)."""
    if engine is None:
        return None
    with engine.connect() as connection:
        count: int = connection.exec_driver_sql(SESSIONS).scalar_one()
        return count


def measure(
    server: Server, path: str, *, database: str | None, engine: Engine | None = None, **wrk: Any
) -> Measurement:
    """One wrk run against ``server`` (16 connections unless told), CPU snapshots on either side, and
    with ``engine`` (PostgreSQL) the connections opened meanwhile."""
    wrk.setdefault("connections", 16)
    opened = sessions_started(engine)
    before = cpu.snapshot(server.process.pid, database)
    result = loadgen.run(server.base + path, **wrk)
    after = cpu.snapshot(server.process.pid, database)
    cost = cpu.per_request(before, after, result.requests)
    if opened is not None:
        opened = (sessions_started(engine) or 0) - opened
    return Measurement(result, cost, opened)


def warm(url: str, headers: dict[str, str], requests: int = WARM_REQUESTS) -> None:
    """A few requests before a measurement, enough for each worker to have served some."""
    for _ in range(requests):
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as answer:
            answer.read()
