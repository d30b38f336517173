"""The authenticated read rows: /list/, whoami, a refused token, the admin page as the table grows,
whoami over a full blocklist, a 100,000-user /list/, and the pool's pre-ping."""

from __future__ import annotations

from bench import seed
from bench.servers import Server, peak_above_idle_mb, reset_peaks
from bench.suite import Run, versus_empty
from bench.table import Measurement

PAGE = "/api/users/all?page=1&per_page=5"


def reads(run: Run) -> None:
    server, bearer = run.authsvc(), run.admin_bearer()
    run.add(
        "GET /list/ (100 users)", run.measure(server, "/list/", headers=bearer), key="list", floor="q/list"
    )
    whoami = run.measure(server, "/api/auth/whoami", headers=bearer)
    run.add("GET /api/auth/whoami", whoami, key="whoami", floor="q/user")
    if run.quick:
        return
    refused = run.measure(server, "/list/", headers={"Authorization": "Bearer x.y.z"})
    run.add("GET /list/ 401 (bad token)", refused, note="401s are the path measured")


def pages(run: Run) -> None:
    """The admin page at 100, 10,000 and 100,000 users."""
    server, bearer = run.authsvc(), run.admin_bearer()
    first = run.add(
        "GET /api/users/all, 100 users",
        run.measure(server, PAGE, connections=4, headers=bearer),
        floor="q/page",
        note="p99 includes the workers' first requests on this route",
    )
    for total in (10_000, 100_000):
        seed.users_up_to(run.engine, total, password_hash=run.password_hash)
        seed.settle(run.engine)
        measured = run.measure(server, PAGE, connections=4, headers=bearer)
        note = f"p50 {measured.result.p50_ms / first.result.p50_ms:.2f}x the 100-user page"
        run.add(f"GET /api/users/all, {total:,} users", measured, note=note)


def blocklist(run: Run) -> None:
    """whoami with a million blocklist rows and 100,000 sessions, against the empty-table figure."""
    seed.revocations(run.engine, blocklist_rows=1_000_000, sessions=100_000, user_ids=list(range(1, 101)))
    seed.settle(run.engine)
    measured = run.measure(run.authsvc(), "/api/auth/whoami", headers=run.admin_bearer())
    note = versus_empty(measured, run.found.get("whoami"))
    run.add("whoami, 1M blocklist rows + 100k sessions", measured, floor="q/user", note=note)


def biglist(run: Run) -> None:
    """One /list/ of 100,000 users (a 15 MB streamed answer) and the worker memory it takes."""
    seed.users_up_to(run.engine, 100_000, password_hash=run.password_hash)
    server, bearer = run.authsvc(), run.admin_bearer()
    run.measure(server, "/health", connections=2)  # warm both workers before taking the idle baseline
    idle = reset_peaks(server.workers())
    measured = _big_list(run, server, bearer)
    note = f"peak worker memory {peak_above_idle_mb(idle):.0f} MB above idle"
    run.add("GET /list/ (100,000 users)", measured, note=note)


def _big_list(run: Run, server: Server, bearer: dict[str, str]) -> Measurement:
    """A 100,000-user list takes a quarter to half a second: 2 connections, at least 5 s, no warming."""
    duration = max(run.duration, 5)
    return run.measure(
        server, "/list/", connections=2, duration=duration, headers=bearer, timeout=60, warmed=False
    )


def preping(run: Run) -> None:
    """What the pool's optional pre-ping (one round trip per checkout) costs on a networked database:
    off by default, since the checkout's socket poll already replaces connections closed while idle."""
    if run.postgres is None:
        return
    bearer = run.admin_bearer()
    server = run.server("authsvc:create_app()", "authsvc-preping", env={"FLASK_DB_POOL_PRE_PING": "true"})
    try:
        whoami = run.measure(server, "/api/auth/whoami", headers=bearer)
        run.add("whoami, pool pre-ping on", whoami, floor="q/user")
        big = _big_list(run, server, bearer)
        run.add(f"GET /list/ ({seed.user_count(run.engine):,} users), pool pre-ping on", big)
    finally:
        server.stop()
