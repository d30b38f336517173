"""One soak from start to finish: the stack up, the load and the timeline, then the end's facts.

The invariants are judged by the caller (``__main__``) on what this returns.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bench.servers import Server
from bench.soak import end, faults, load, monitor, stack
from bench.soak.invariants import Observed
from bench.soak.records import Facts, Records
from bench.soak.wires import Wires

REUSE = 2  # FLASK_JWT_REFRESH_REUSE_INTERVAL, seconds
ADMIN_PASSWORD = "Soak-admin-Qm7v2Lx9-lantern"  # a throwaway database's admin, on loopback


@dataclass
class Outcome:
    warmup: float
    records: Records = field(default_factory=Records)
    facts: Facts = field(default_factory=Facts)
    observed: Observed = field(default_factory=Observed)
    setup: dict[str, str] = field(default_factory=dict)


def soak(duration: float, actors: int, workers: int) -> Outcome:
    warmup = min(60.0, max(15.0, duration * 0.25))
    access = int(min(60, max(20, duration / 10)))
    refresh, prune_every = 3 * access, max(10.0, duration / 12)
    work = Path(tempfile.mkdtemp(prefix="authsvc-soak-"))
    outcome, began = Outcome(warmup), time.monotonic()
    wires = Wires(*stack.targets())
    server: Server | None = None
    try:
        admin = stack.fresh_database(ADMIN_PASSWORD)
        stack.redis_client().flushdb()
        env = stack.server_env(wires, work, access=access, refresh=refresh, reuse=REUSE)
        booted = time.monotonic()
        server = stack.start_server(env, work, workers)
        started = time.monotonic()

        def clock() -> float:
            return time.monotonic() - started

        plan = load.Plan(server.port, clock, duration, REUSE, (admin, ADMIN_PASSWORD))
        watcher = monitor.Monitor(server, clock, duration)
        watcher.start()
        team, threads = load.run_actors(actors, plan)
        outcome.observed = Observed(health=watcher.health, memory=watcher.memory)
        _conduct(outcome.observed, faults.Injector(server, wires, clock), env, clock, duration, prune_every)
        for thread in threads:
            thread.join(timeout=max(1.0, duration - clock()) + 30)
        watcher.stop()
        loaded = time.monotonic()
        time.sleep(REUSE + 1)  # past the reuse interval: a spent token presented now must be refused
        for part in [*(actor.records for actor in team), watcher.records]:
            outcome.records.merge(part)
        end.read_database(outcome.facts)
        end.probe(outcome.records, outcome.facts, server.port, clock)
        end.read_log(outcome.facts, work / "gunicorn.log")
        end.read_redis(outcome.facts)
    finally:
        if server is not None:
            server.stop()
        wires.close()
    outcome.setup = {
        "when": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": f"uv run python -m bench.soak --duration {duration:g}",
        "server": f"gunicorn -c python:authsvc.gunicorn_conf, {workers} gthread workers x 4 threads",
        "stores": f"PostgreSQL database {stack.DATABASE}, Redis db {stack.REDIS_DB}, each behind a wire",
        "load": f"{actors} closed-loop threads, mix {load.MIX}",
        "tokens": f"access {access} s, refresh {refresh} s, reuse interval {REUSE} s, "
        f"bcrypt cost {stack.BCRYPT_ROUNDS}",
        "schedule": f"warm-up {warmup:g} s, prune every {prune_every:g} s (clear of faults), "
        f"outages {faults.OUTAGE:g} s",
        "phases (wall time)": f"setup {started - began:.1f} s (of which the server's start "
        f"{started - booted:.1f} s), load {loaded - started:.1f} s, end checks and stop "
        f"{time.monotonic() - loaded:.1f} s",
        "logs": str(work),
    }
    return outcome


def _conduct(
    observed: Observed,
    injector: faults.Injector,
    env: dict[str, str],
    clock: Callable[[], float],
    duration: float,
    prune_every: float,
) -> None:
    """Each fault and prune at its time; the tables are read before each prune and once at the end."""
    last_prune: float | None = None
    for event in faults.timeline(duration, prune_every):
        time.sleep(max(0.0, event.at - clock()))
        if event.name != "prune":
            observed.faults.append(injector.run(event.name))
            continue
        sample = monitor.tables(clock(), last_prune)
        last_prune = time.time()
        pruned = stack.flask(env, "prune-tokens")
        observed.tables.append(
            replace(sample, pruned=(pruned.stdout.strip() or pruned.stderr.strip())[-300:])
        )
    time.sleep(max(0.0, duration - clock()))
    observed.tables.append(monitor.tables(clock(), last_prune))
