"""The README's production server (gthread workers, keep-alive, access log) under keep-alive load.

wrk keeps its connections open by default; the sync-worker rows pay a new connection per request,
because a sync worker closes each one. The floors are measured under the same server command.
"""

from __future__ import annotations

from bench.floors import measure_floors
from bench.suite import Run

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
