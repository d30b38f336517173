"""The soak's timeline: when each fault and each ``flask prune-tokens`` happens, and how faults are made.

Times are fractions of the run, so the 60-second CI soak and the 10-minute one share one schedule.
Prunes keep clear of the faults (a prune's own start-up costs CPU, and would blur a recovery).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.servers import Server
from bench.soak import stack
from bench.soak.records import Fault
from bench.soak.wires import Wires

OUTAGE = 10.0  # seconds PostgreSQL, then Redis, are unreachable
AT = {"kill_worker": 0.18, "terminate_connections": 0.3, "postgres_outage": 0.4, "redis_outage": 0.62}


@dataclass(frozen=True)
class Event:
    at: float
    name: str


def timeline(duration: float, prune_every: float) -> list[Event]:
    """The faults at their shares of the run; a prune every ``prune_every`` s from half of it, skipping
    any that would fall within 3 s before a fault or its recovery's 6 s after, plus one just after the
    last recovery (so the short soak prunes under load too)."""
    faults = [Event(duration * share, name) for name, share in AT.items()]
    busy = [(e.at - 3, e.at + (OUTAGE if "outage" in e.name else 0) + 6) for e in faults]
    candidates = [prune_every / 2 + prune_every * k for k in range(int(duration / prune_every) + 1)]
    candidates.append(max(end for _, end in busy))
    prunes = [
        Event(at, "prune")
        for at in sorted(set(candidates))
        if at < duration - 3 and not any(start <= at <= end for start, end in busy)
    ]
    return sorted(faults + prunes, key=lambda event: event.at)


def ticks_of(stat: str) -> int:
    """The user and system CPU time in a /proc/<pid>/stat line, in clock ticks. The name, field 2,
    may hold spaces and parentheses, so the fields are counted from its last ")"."""
    after_name = stat.rsplit(")", 1)[1].split()
    return int(after_name[11]) + int(after_name[12])  # fields 14 and 15: utime, stime


def cpu_ticks(pid: int) -> int:
    """The CPU time a process has used, or -1 if it is gone."""
    try:
        return ticks_of(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return -1


def busiest(pids: list[int], ticks: Callable[[int], int] = cpu_ticks) -> int:
    """The worker that has done the most work: killing it moves the most clients to the others,
    which then reach their working memory and load late (the harshest case, every run)."""
    return max(pids, key=ticks)


class Injector:
    def __init__(self, server: Server, wires: Wires, clock: Callable[[], float]) -> None:
        self.server, self.wires, self.clock = server, wires, clock

    def run(self, name: str) -> Fault:
        started = self.clock()
        detail = getattr(self, name)()
        return Fault(name, started, self.clock(), detail)

    def kill_worker(self) -> str:
        before = self.server.workers()
        victim = busiest(before)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        while time.monotonic() < killed + 30:  # gunicorn forks a replacement
            now = self.server.workers()
            if len(now) == len(before) and victim not in now:
                return (
                    f"kill -9 of worker {victim} (the busiest); a new worker forked"
                    f" {time.monotonic() - killed:.2f} s later"
                )
            time.sleep(0.05)
        return f"kill -9 of worker {victim} (the busiest); not replaced within 30 s"

    def terminate_connections(self) -> str:
        with psycopg.connect(stack.direct_url(), autocommit=True, connect_timeout=5) as connection:
            ended = connection.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (stack.APPLICATION,),
            ).fetchone()
        return f"pg_terminate_backend of {ended[0] if ended else 0} application connections"

    def _outage(self, wire: str) -> str:
        self.wires.cut(wire)
        time.sleep(OUTAGE)
        self.wires.start(wire)
        return f"{wire} unreachable {OUTAGE:g} s (its wire cut: connections reset, new ones refused)"

    def postgres_outage(self) -> str:
        return self._outage("postgres")

    def redis_outage(self) -> str:
        return self._outage("redis")
