"""whoami and refresh at scale on PostgreSQL: 1,000,000 users and 10,000,000 blocklist rows, seeded
with COPY, against the same requests on the run's (nearly) empty tables. The data is dropped after."""

from __future__ import annotations

import shutil
import sys

from bench import bulk, database
from bench.suite import Run, versus_empty
from bench.writes import walk_tokens

USERS = 1_000_000
BLOCKLIST = 10_000_000
NEEDS_GIB = 10  # the tables and indexes take about 3 GiB, the write-ahead log as much again while loading


def scale(run: Run) -> None:
    if run.postgres is None:
        return
    server, bearer = run.authsvc(), run.admin_bearer()
    if "whoami" not in run.found:  # the empty-table figures, when the rows that take them were skipped
        run.add("GET /api/auth/whoami", run.measure(server, "/api/auth/whoami", headers=bearer), key="whoami")
    if "refresh" not in run.found:
        measured, note = walk_tokens(run, "/api/auth/refresh", "refresh")
        run.add("POST /api/auth/refresh (a fresh session's token each)", measured, key="refresh", note=note)
    free = shutil.disk_usage("/").free / 2**30  # the bench and a local PostgreSQL share the disk here
    if free < NEEDS_GIB:
        run.table.add(f"{run.label}: scale rows", note=f"skipped: {free:.0f} GiB free, {NEEDS_GIB} needed")
        return
    loading = f"bench: loading {USERS:,} users and {BLOCKLIST:,} blocklist rows ({free:.0f} GiB free)"
    print(loading, file=sys.stderr, flush=True)
    bulk.users_up_to(run.engine, USERS, password_hash=run.password_hash)
    present = bulk.count(run.engine, "token_blocklist")
    bulk.blocklist(run.engine, max(BLOCKLIST - present, 0), users=USERS)
    bulk.settle(run.engine, ('"user"', "token_blocklist", "auth_session"))
    try:
        whoami = run.measure(server, "/api/auth/whoami", headers=bearer)
        scale_name = f"{USERS // 1_000_000}M users, {BLOCKLIST // 1_000_000}M blocklist rows"
        note = versus_empty(whoami, run.found.get("whoami"))
        run.add(f"whoami, {scale_name}", whoami, floor="q/user", note=note)
        refresh, seeded = walk_tokens(run, "/api/auth/refresh", "refresh")
        note = f"{versus_empty(refresh, run.found.get('refresh'))}; {seeded}"
        run.add(f"refresh, {scale_name}", refresh, floor="q/write", note=note)
    finally:
        run.stop_authsvc()
        database.drop(run.engine)  # gigabytes: not left behind
