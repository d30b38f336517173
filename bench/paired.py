"""Two servers measured in turn, round after round, and the summaries of such paired rounds.

Each round measures both servers back to back, the first of the pair alternating, so a drift in the
machine's load weighs on both sides alike (the ``audit`` and ``arenas`` groups).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence

from bench import cpu, loadgen, writes
from bench.servers import Server
from bench.suite import Run
from bench.table import Measurement

# Named for the group that first measured in rounds; every paired group uses it.
PAIRED_ROUNDS = int(os.environ.get("BENCH_AUDIT_ROUNDS", "5"))


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


def versus(first: Sequence[Measurement], second: Sequence[Measurement], title: str) -> str:
    """The ratio first / second of the medians of req/s and of (server + db) CPU per request, each
    with the range of the rounds' paired ratios (round i of the first over round i of the second)."""
    parts = []
    for label, figure in (("req/s", _rps), ("CPU/req", _cpu)):
        ratio = statistics.median(map(figure, first)) / statistics.median(map(figure, second))
        paired = [figure(a) / figure(b) for a, b in zip(first, second, strict=True)]
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


def walk(run: Run, path: str, kind: str) -> Callable[[Server], Measurement]:
    """A measurement of ``path`` with a fresh session's ``kind`` token per request, on a given server."""
    return lambda server: writes.walk_tokens(run, path, kind, server=server)[0]
