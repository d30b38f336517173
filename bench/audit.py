"""The audit trail's cost (issue 18): sign-in, refresh and logout on authsvc as shipped (each writes
one ``audit_event`` row in its transaction) and on the same app without that INSERT
(``bench.no_audit``), the two servers measured in turn, round after round, on the same database.

Each round measures both servers back to back, the first of the pair alternating (with, without;
without, with; ...), so a drift in the machine's load weighs on both sides alike. A row gives each
figure's median over the rounds, and the "without" row's note the ratio with / without of the
medians and the range of the rounds' paired ratios.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

from bench import writes
from bench.paired import PAIRED_ROUNDS, by_round, interleaved, median_of, versus, walk
from bench.servers import Server
from bench.suite import PASSWORD, ROUNDS, Run, post_json
from bench.table import Measurement

SIGNIN = "/api/auth/login"
WARM_TOKENS = 20  # per server and path: enough for each worker to have served the route


def _signin(run: Run) -> Callable[[Server], Measurement]:
    body = json.dumps({"username": "user2", "password": PASSWORD})
    duration = max(run.duration, writes.BCRYPT_SECONDS)
    return lambda server: run.measure(
        server, SIGNIN, connections=writes.BCRYPT_CONNECTIONS, duration=duration,
        method="POST", body=body, headers={"Content-Type": "application/json"},
    )  # fmt: skip


def _warm(run: Run, server: Server) -> None:
    """Each route a few times on each server before any measured window (a worker's first requests
    on a route cost more): one sign-in, then refreshes and logouts with fresh sessions' tokens."""
    post_json(server.base + SIGNIN, {"username": "user2", "password": PASSWORD})
    for path, kind in (("/api/auth/refresh", "refresh"), ("/api/auth/logout", "access")):
        for token in writes.fresh_tokens(run, kind, WARM_TOKENS):
            request = urllib.request.Request(
                server.base + path, method="POST", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=60) as answer:
                answer.read()


def audit(run: Run) -> None:
    with_audit = run.authsvc()
    without = run.server("bench.no_audit:create_app()", "authsvc-no-audit")
    try:
        for server in (with_audit, without):
            _warm(run, server)
        rows = (
            (f"{SIGNIN} (bcrypt cost {ROUNDS})", _signin(run)),
            ("refresh (a fresh session's token each)", walk(run, "/api/auth/refresh", "refresh")),
            ("logout (a fresh session's access token each)", walk(run, "/api/auth/logout", "access")),
        )
        for name, measure in rows:
            kept, skipped = interleaved((with_audit, without), measure, PAIRED_ROUNDS)
            median = f"median of {PAIRED_ROUNDS}"
            run.add(
                f"audit: {name}, with the audit row ({median})",
                median_of(kept),
                note=by_round(kept),
                ratio="",
            )
            note = f"{versus(kept, skipped, 'with / without audit row')}; {by_round(skipped)}"
            run.add(f"audit: {name}, without it ({median})", median_of(skipped), note=note, ratio="")
    finally:
        without.stop()
