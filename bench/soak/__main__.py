"""``uv run python -m bench.soak [--duration SECONDS]``: the soak of issue 19 (docs/reliability.md).

Starts everything on loopback, runs the bounded load for the duration (default 10 minutes) with the
faults and prunes of ``faults.timeline``, checks every invariant, prints the Markdown report (also to
``--report``), and exits 1 if any invariant is broken, naming it.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench.soak import end, faults, invariants, load, monitor, report, stack
from bench.soak.records import Facts, Records
from bench.soak.verdict import Rules
from bench.soak.wires import Wires

REUSE = 2  # FLASK_JWT_REFRESH_REUSE_INTERVAL, seconds
ADMIN = ("soak-admin", "Soak-admin-Qm7v2Lx9-lantern")  # a throwaway database's admin, on loopback


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    parser.add_argument("--actors", type=int, default=6, help="load threads (default 6)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--report", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    if not 30 <= args.duration <= 3600:
        parser.error("--duration must be 30 to 3600 seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # finally blocks still run
    args = arguments(argv)
    duration = args.duration
    warmup = min(60.0, max(15.0, duration * 0.25))
    access = int(min(60, max(20, duration / 10)))
    refresh, prune_every = 3 * access, max(10.0, duration / 12)
    work = Path(tempfile.mkdtemp(prefix="authsvc-soak-"))
    stack.fresh_database()
    stack.redis_client().flushdb()
    wires = Wires(5432, 6379)
    server = None
    try:
        env = stack.server_env(wires, work, access=access, refresh=refresh, reuse=REUSE)
        made = stack.flask(env, "create-user", ADMIN[0], "--email", "soak-admin@example.com",
                           "--password", ADMIN[1], "--admin")  # fmt: skip
        if made.returncode:
            raise SystemExit(f"soak: create-user failed: {made.stderr.strip()[-500:]}")
        server = stack.start_server(env, work, args.workers)
        started = time.monotonic()

        def clock() -> float:
            return time.monotonic() - started

        plan = load.Plan(server.port, clock, duration, REUSE, ADMIN)
        watcher = monitor.Monitor(server, clock, duration)
        watcher.start()
        actors, threads = load.run_actors(args.actors, plan)
        observed = invariants.Observed(health=watcher.health, memory=watcher.memory)
        injector = faults.Injector(server, wires, clock)
        last_prune: float | None = None
        for event in faults.timeline(duration, prune_every):
            time.sleep(max(0.0, event.at - clock()))
            if event.name != "prune":
                observed.faults.append(injector.run(event.name))
                continue
            sample = monitor.tables(clock(), last_prune)
            last_prune = time.time()
            pruned = stack.flask(env, "prune-tokens")
            line = (pruned.stdout.strip() or pruned.stderr.strip())[-300:]
            observed.tables.append(replace(sample, pruned=line))
        for thread in threads:
            thread.join(timeout=max(1.0, duration - clock()) + 30)
        observed.tables.append(monitor.tables(clock(), last_prune))
        watcher.stop()
        time.sleep(REUSE + 1)  # past the reuse interval: a spent token presented now must be refused
        records = Records()
        for part in [*(actor.records for actor in actors), watcher.records]:
            records.merge(part)
        facts = Facts()
        end.read_database(facts)
        end.probe(records, facts, server.port, clock)
        end.read_log(facts, work / "gunicorn.log")
        end.read_redis(facts)
    finally:
        if server is not None:
            server.stop()
        wires.close()
    rules = Rules(duration=duration, warmup=warmup, reuse_interval=REUSE)
    verdicts = invariants.check(records, facts, observed, rules)
    setup = {
        "when": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": f"uv run python -m bench.soak --duration {duration:g}",
        "server": f"gunicorn -c python:authsvc.gunicorn_conf, {args.workers} gthread workers x 4 threads",
        "stores": f"PostgreSQL database {stack.DATABASE}, Redis db {stack.REDIS_DB}, each behind a wire",
        "load": f"{args.actors} closed-loop threads, mix {load.MIX}",
        "tokens": f"access {access} s, refresh {refresh} s, reuse interval {REUSE} s, bcrypt cost 4",
        "schedule": f"warm-up {warmup:g} s, prune every {prune_every:g} s (clear of faults), "
        f"outages {faults.OUTAGE:g} s",
        "logs": str(work),
    }
    text = report.render(setup, records, observed, verdicts)
    print(text)
    if args.report:
        args.report.write_text(text)
    failed = [verdict.name for verdict in verdicts if not verdict.ok]
    if failed:
        print(f"soak: broken invariants: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
