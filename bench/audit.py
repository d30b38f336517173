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
import os
import statistics
import urllib.request
from collections.abc import Callable, Sequence

from bench import cpu, loadgen, writes
from bench.servers import Server
from bench.suite import PASSWORD, ROUNDS, Run, post_json
from bench.table import Measurement

AUDIT_ROUNDS = int(os.environ.get("BENCH_AUDIT_ROUNDS", "5"))
SIGNIN = "/api/auth/login"
WARM_TOKENS = 20  # per server and path: enough for each worker to have served the route


def median_of(runs: Sequence[Measurement]) -> Measurement:
    """One measurement holding each figure's median over ``runs`` (requests and errors summed)."""
    results, costs = [run.result for run in runs], [run.cost for run in runs]
    databases = [cost.database_ms for cost in costs]
    opened = [run.connections_opened for run in runs if run.connections_opened is not None]
    result = loadgen.Result(
        rps=statistics.median(result.rps for result in results),
        p50_ms=statistics.median(result.p50_ms for result in results),
        p99_ms=statistics.median(result.p99_ms for result in results),
        requests=sum(result.requests for result in results),
        non_2xx=sum(result.non_2xx for result in results),
        socket_errors=sum(result.socket_errors for result in results),
    )
    database = None if None in databases else statistics.median(d for d in databases if d is not None)
    cost = cpu.Cost(statistics.median(cost.server_ms for cost in costs), database)
    return Measurement(result, cost, sum(opened) if opened else None)


def _rps(measured: Measurement) -> float:
    return measured.rps


def _cpu(measured: Measurement) -> float:
    return measured.cost.total_ms


def versus(
    with_audit: Sequence[Measurement], without: Sequence[Measurement], title: str = "with / without audit row"
) -> str:
    """The ratio with / without of the medians of req/s and of (server + db) CPU per request, each
    with the range of the rounds' paired ratios (round i with over round i without)."""
    parts = []
    for label, figure in (("req/s", _rps), ("CPU/req", _cpu)):
        ratio = statistics.median(map(figure, with_audit)) / statistics.median(map(figure, without))
        paired = [figure(a) / figure(b) for a, b in zip(with_audit, without, strict=True)]
        parts.append(f"{ratio:.3f}x {label} (rounds {min(paired):.3f}-{max(paired):.3f})")
    return f"{title}: " + ", ".join(parts)


def by_round(runs: Sequence[Measurement]) -> str:
    """Each round's req/s and CPU per request, in the order measured."""
    rps = "/".join(f"{run.rps:,.0f}" if run.rps >= 100 else f"{run.rps:.1f}" for run in runs)
    return f"rounds: {rps} req/s, " + "/".join(f"{_cpu(run):.2f}" for run in runs) + " ms CPU/req"


def interleaved(
    servers: tuple[Server, Server], measure: Callable[[Server], Measurement], rounds: int
) -> tuple[list[Measurement], list[Measurement]]:
    """``rounds`` measurements of each server, paired, the first of each pair alternating."""
    measured: dict[int, list[Measurement]] = {0: [], 1: []}
    for n in range(rounds):
        order = (0, 1) if n % 2 == 0 else (1, 0)
        for side in order:
            measured[side].append(measure(servers[side]))
    return measured[0], measured[1]


def _signin(run: Run) -> Callable[[Server], Measurement]:
    body = json.dumps({"username": "user2", "password": PASSWORD})
    duration = max(run.duration, writes.BCRYPT_SECONDS)
    return lambda server: run.measure(
        server, SIGNIN, connections=writes.BCRYPT_CONNECTIONS, duration=duration,
        method="POST", body=body, headers={"Content-Type": "application/json"},
    )  # fmt: skip


def walk(run: Run, path: str, kind: str) -> Callable[[Server], Measurement]:
    return lambda server: writes.walk_tokens(run, path, kind, server=server)[0]


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
            kept, skipped = interleaved((with_audit, without), measure, AUDIT_ROUNDS)
            median = f"median of {AUDIT_ROUNDS}"
            run.add(
                f"audit: {name}, with the audit row ({median})",
                median_of(kept),
                note=by_round(kept),
                ratio="",
            )
            note = f"{versus(kept, skipped)}; {by_round(skipped)}"
            run.add(f"audit: {name}, without it ({median})", median_of(skipped), note=note, ratio="")
    finally:
        without.stop()
