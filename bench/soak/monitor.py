"""What the soak watches while it runs: /health and each worker's RSS every second (a thread of its own),
and the two tables pruning keeps bounded (read before each prune, from beside the wire)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import psycopg

from bench.servers import Server
from bench.soak import stack
from bench.soak.client import Http
from bench.soak.records import Health, Memory, Records, Tables

TICK = 1.0


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None  # the worker just exited
    return None


class Monitor(threading.Thread):
    def __init__(self, server: Server, clock: Callable[[], float], stop_at: float) -> None:
        super().__init__(name="soak-monitor")
        self.server, self.clock, self.stop_at = server, clock, stop_at
        self.records = Records()  # its /health requests count with everyone's
        self.health: list[Health] = []
        self.memory: list[Memory] = []
        self._done = threading.Event()

    def run(self) -> None:
        http = Http(self.server.port, self.records, self.clock)
        while not self._done.is_set() and self.clock() < self.stop_at:
            status, body = http.call("health", "GET", "/health")
            body = body if isinstance(body, dict) else {}
            at = self.clock()
            self.health.append(
                Health(at, status, body.get("database", "?"), body.get("rate_limit_storage", "?"))
            )
            for pid in self.server.workers():
                if (rss := rss_kb(pid)) is not None:
                    self.memory.append(Memory(at, pid, rss))
            self._done.wait(TICK)
        http.close()

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=30)


def tables(at: float, last_prune_epoch: float | None) -> Tables:
    """Row counts, and the rows the prune that began at ``last_prune_epoch`` should have dropped (their
    expiry, or their session's revocation, came before it; a second's margin for the clock read)."""
    cutoff = (last_prune_epoch or 0.0) - 1.0
    with psycopg.connect(stack.direct_url(), connect_timeout=5) as connection:
        blocklist, overdue_blocklist = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE expires_at < to_timestamp(%s)) FROM token_blocklist",
            (cutoff,),
        ).fetchone() or (0, 0)
        sessions, overdue_sessions = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE expires_at < to_timestamp(%s)"
            " OR revoked_at < to_timestamp(%s)) FROM auth_session",
            (cutoff, cutoff),
        ).fetchone() or (0, 0)
    if last_prune_epoch is None:
        overdue_blocklist = overdue_sessions = 0  # nothing was pruned yet: nothing is overdue
    return Tables(at, blocklist, sessions, overdue_blocklist, overdue_sessions)
