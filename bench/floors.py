"""The bare + query rows: ``bench.bare_db`` on the run's database, the floor of each endpoint."""

from __future__ import annotations

from typing import Any

from bench import seed
from bench.suite import Run
from bench.table import Measurement

# key -> (path, what it is the floor of, wrk options)
FLOORS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "q/list": ("/q/list/", "GET /q/list/: all 100 users, as /list/ reads them", {}),
    "q/user": ("/q/user", "GET /q/user: one user row by id, as whoami reads it", {}),
    "q/page": ("/q/page", "GET /q/page: 5 users and the counter row, as the admin page", {"connections": 4}),
    "q/write": ("/q/write", "POST /q/write: one INSERT and one UPDATE, one commit", {"method": "POST"}),
}
QUICK = ("q/list", "q/user", "q/write")
WRITE_TARGETS = 5000  # sessions the write updates (one at random per request)


def ensure_write_targets(run: Run) -> None:
    """Sessions for /q/write to update, unless the table already has some."""
    with run.engine.connect() as connection:
        present = connection.exec_driver_sql("SELECT count(*) FROM auth_session").scalar_one()
    if present < WRITE_TARGETS:
        seed.revocations(run.engine, blocklist_rows=0, sessions=WRITE_TARGETS, user_ids=list(range(1, 101)))


def measure_floors(run: Run, *, production: bool = False, keys: tuple[str, ...] = tuple(FLOORS)) -> None:
    """Measure the floors named by ``keys``; under the production server their keys get a prefix."""
    if "q/write" in keys:
        ensure_write_targets(run)
    prefix = "gthread " if production else ""
    log_name = "bare-db-gthread" if production else "bare-db-sync"
    server = run.server("bench.bare_db:app", log_name, probe="/q/user", production=production)
    try:
        for key in keys:
            path, name, options = FLOORS[key]
            measured: Measurement = run.measure(server, path, **options)
            server_kind = ", gthread keep-alive" if production else ""
            run.add(f"bare + query{server_kind}: {name}", measured, key=prefix + key)
    finally:
        server.stop()


def floors(run: Run) -> None:
    measure_floors(run, keys=QUICK if run.quick else tuple(FLOORS))
