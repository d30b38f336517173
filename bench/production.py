"""The README's production server (gthread workers, keep-alive, access log) under keep-alive load.

wrk keeps its connections open by default; the sync-worker rows pay a new connection per request,
because a sync worker closes each one. The floors are measured under the same server command.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bench import paired
from bench.floors import measure_floors
from bench.servers import Server, status_kb
from bench.suite import Run
from bench.table import Measurement

KIND = "gthread keep-alive"


def production(run: Run) -> None:
    measure_floors(run, production=True, keys=("q/list", "q/user"))
    bearer = run.admin_bearer()
    server = run.server("authsvc:create_app()", "authsvc-gthread", production=True)
    try:
        rows = (
            ("list", "/list/", "GET /list/ (100 users)", "gthread q/list"),
            ("whoami", "/api/auth/whoami", "GET /api/auth/whoami", "gthread q/user"),
        )
        for key, path, name, floor in rows:
            measured = run.measure(server, path, headers=bearer)
            sync = run.found.get(key)
            note = f"{measured.rps / sync.rps:.2f}x the sync-worker row" if sync else ""
            run.add(f"{KIND}: {name}", measured, floor=floor, note=note)
    finally:
        server.stop()


def arenas(run: Run) -> None:
    """The production server as shipped (``gunicorn_conf`` limits each worker to two malloc arenas)
    against glibc's own limit (eight per core, set with ``MALLOC_ARENA_MAX``, which the config leaves
    alone), measured in turn round after round; then each one's worker RSS."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        raise SystemExit("bench arenas: unset MALLOC_ARENA_MAX (both servers would inherit it)")
    bearer = run.admin_bearer()
    own = 8 * (os.cpu_count() or 1)
    shipped = run.server("authsvc:create_app()", "authsvc-arenas-2", production=True)
    glibc = run.server(
        "authsvc:create_app()", "authsvc-arenas-glibc", production=True, env={"MALLOC_ARENA_MAX": str(own)}
    )
    try:
        rows: tuple[tuple[str, Callable[[Server], Measurement]], ...] = (
            ("GET /list/ (100 users)", lambda server: run.measure(server, "/list/", headers=bearer)),
            ("GET /api/auth/whoami", lambda server: run.measure(server, "/api/auth/whoami", headers=bearer)),
            ("POST /api/auth/refresh (fresh sessions)", paired.walk(run, "/api/auth/refresh", "refresh")),
        )
        median = f"median of {paired.PAIRED_ROUNDS}"
        for name, measure in rows:
            two, many = paired.interleaved((shipped, glibc), measure, paired.PAIRED_ROUNDS)
            run.add(f"{KIND}: {name}, 2 arenas ({median})", paired.median_of(two), note=paired.by_round(two))
            note = f"{paired.versus(two, many, f'2 / {own} arenas')}; {paired.by_round(many)}"
            run.add(f"{KIND}: {name}, {own} arenas ({median})", paired.median_of(many), note=note)
        for label, server in (("2 arenas", shipped), (f"{own} arenas", glibc)):
            rss = [status_kb(pid, "VmRSS") / 1024 for pid in server.workers()]
            print(f"worker RSS after the rounds, {label}: " + ", ".join(f"{mb:.1f} MB" for mb in rss))
    finally:
        shipped.stop()
        glibc.stop()
