"""The audit row's cost in process: ``uv run python -m bench.audit_profile [path] [requests] [blocks]``.

Builds the app as ``bench.profile`` does (a fresh SQLite file, or ``BENCH_DATABASE_URL``; bcrypt cost
4), then times blocks of ``requests`` calls of ``path`` (default ``/api/auth/refresh``, a fresh
session's token each) alternately with the ``audit_event`` INSERT and with it skipped
(``bench.no_audit.skip_row``): with, without, without, with, ... It prints the medians per request (wall
time, and this process's CPU time, which other jobs on the machine disturb less), their difference,
and the time ``audit.record`` takes per call on each side. Then a pyinstrument profile of one block
with the INSERT.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from pyinstrument import Profiler

from authsvc import audit
from authsvc.db import get_engine
from bench import database, no_audit
from bench.profile import build, requests


def timed_record(spent: dict[str, list[float]], side: list[str]) -> Callable[..., None]:
    """``audit.record``, each call's time filed under ``side[0]`` (the services import it by name:
    see ``install``)."""
    original = audit.record

    def record(*args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        original(*args, **kwargs)
        spent[side[0]].append(time.perf_counter() - started)

    return record


def install(record: Callable[..., None]) -> None:
    """Put ``record`` in place of ``audit.record`` in every module that imported it."""
    for module in list(sys.modules.values()):
        if getattr(module, "record", None) is audit.record and module is not audit:
            module.record = record  # type: ignore[attr-defined]


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "/api/auth/refresh"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    blocks = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    app = build()
    send = requests(app, path, 200 + count * (2 * blocks + 1))
    for _ in range(200):
        send()
    shipped = audit._write_row
    figures: dict[str, list[float]] = {"with": [], "without": []}
    cpu: dict[str, list[float]] = {"with": [], "without": []}
    spent: dict[str, list[float]] = {"with": [], "without": [], "profiled": []}
    current = ["with"]
    install(timed_record(spent, current))
    for n in range(2 * blocks):
        side = ("with", "without")[(n + n // 2) % 2]  # with, without, without, with, ...
        current[0] = side
        audit._write_row = shipped if side == "with" else no_audit.skip_row
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            send()
        figures[side].append((time.perf_counter() - started) / count * 1e6)
        cpu[side].append((time.process_time() - started_cpu) / count * 1e6)
    audit._write_row = shipped
    current[0] = "profiled"
    print(f"{path} on {database.label(get_engine(app))}, {count} requests x {blocks} blocks each")
    for name, table in (("wall", figures), ("CPU", cpu)):  # CPU: this process's, the test client's too
        for side, values in table.items():
            print(f"  {name:4} {side:8} " + " ".join(f"{value:.0f}" for value in values) + " us per request")
        kept, skipped = statistics.median(table["with"]), statistics.median(table["without"])
        paired = sorted(a / b for a, b in zip(table["with"], table["without"], strict=True))
        print(
            f"  {name:4} medians: with {kept:.0f} us, without {skipped:.0f} us: {kept - skipped:+.0f} us, "
            f"{kept / skipped - 1:+.1%} per request (blocks paired {paired[0] - 1:+.1%} to "
            f"{paired[-1] - 1:+.1%}), throughput ratio {skipped / kept:.3f}"
        )
    for side in ("with", "without"):
        print(f"  audit.record per call, {side}: median {statistics.median(spent[side]) * 1e6:.0f} us")
    print()
    profiler = Profiler(interval=0.0001)
    with profiler:
        for _ in range(count):
            send()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
