"""``uv run python -m bench.soak [--duration SECONDS]``: the soak of issue 19 (docs/reliability.md).

Starts everything on loopback, runs the bounded load for the duration (default 10 minutes) with the
faults and prunes of ``faults.timeline``, checks every invariant, prints the Markdown report (also to
``--report``), and exits 1 if any invariant is broken, naming it.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from bench.soak import invariants, report
from bench.soak.run import REUSE, soak
from bench.soak.verdict import Rules


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    parser.add_argument("--actors", type=int, default=6, help="load threads (default 6)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--report", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    if not 30 <= args.duration <= 3600:
        parser.error("--duration must be 30 to 3600 seconds")
    if not 1 <= args.actors <= 32 or not 1 <= args.workers <= 8:
        parser.error("--actors must be 1 to 32 and --workers 1 to 8")
    return args


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # finally blocks still run
    args = arguments(argv)
    outcome = soak(args.duration, args.actors, args.workers)
    rules = Rules(duration=args.duration, warmup=outcome.warmup, reuse_interval=REUSE)
    verdicts = invariants.check(outcome.records, outcome.facts, outcome.observed, rules)
    text = report.render(outcome.setup, outcome.records, outcome.observed, verdicts)
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
