"""CPU time per request, read from ``/proc``: the server's processes, and PostgreSQL's.

A snapshot holds utime + stime (clock ticks) of the gunicorn master and its workers and, on
PostgreSQL, of the database server's processes: the backends of the bench database and the
server's own (checkpointer, WAL writer, ...), but not other databases' backends, so another job on
the same server does not count. A process that appears during the window counts in full; one that
exits during it is lost (the pools keep their connections, so none does in a measured run).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
_CLIENT_BACKEND = re.compile(r"\S+\(\d+\)|\[local\]")  # "postgres: ... user db 127.0.0.1(5678) idle"


def stat_ticks(stat: str) -> int:
    """utime + stime from the text of ``/proc/<pid>/stat`` (fields 14 and 15 of proc(5))."""
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces and ")"; fields after it do not
    return int(fields[11]) + int(fields[12])


def ticks(pid: int) -> int | None:
    """utime + stime of one process (all its threads), or None when it is gone."""
    try:
        return stat_ticks(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    pids, queue = [], [root]
    while queue:
        pid = queue.pop()
        pids.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                queue.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return pids


def postgres_pids(database: str) -> list[int]:
    """PostgreSQL's processes, less the client backends of databases other than ``database``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if _CLIENT_BACKEND.search(title) and f" {database} " not in f" {title} ":
            continue
        pids.append(int(entry.name))
    return pids


@dataclass(frozen=True)
class Snapshot:
    server: dict[int, int]
    database: dict[int, int] | None


def _ticks_of(pids: list[int]) -> dict[int, int]:
    return {pid: spent for pid in pids if (spent := ticks(pid)) is not None}


def snapshot(server_pid: int, database: str | None) -> Snapshot:
    """The server's CPU ticks so far and, when ``database`` names a PostgreSQL database, the database's."""
    server = _ticks_of(process_tree(server_pid))
    return Snapshot(server, None if database is None else _ticks_of(postgres_pids(database)))


def spent_ms(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU milliseconds between two snapshots; a pid new in ``after`` counts in full."""
    return sum(spent - before.get(pid, 0) for pid, spent in after.items()) * TICK_MS


@dataclass(frozen=True)
class Cost:
    """CPU milliseconds per request: the server's, and the database's (None on SQLite, in process)."""

    server_ms: float
    database_ms: float | None

    @property
    def total_ms(self) -> float:
        return self.server_ms + (self.database_ms or 0.0)


def per_request(before: Snapshot, after: Snapshot, requests: int) -> Cost:
    count = max(requests, 1)
    database = None
    if before.database is not None and after.database is not None:
        database = spent_ms(before.database, after.database) / count
    return Cost(spent_ms(before.server, after.server) / count, database)
