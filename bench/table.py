"""The printed table: one Markdown row per measurement, with its ratios and CPU per request."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from bench import cpu, loadgen

HEAD = (
    "| measurement | req/s | p50 ms | p99 ms | server CPU ms/req | db CPU ms/req | vs bare Flask "
    "| vs bare + query | CPU vs bare + query | notes |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


@dataclass(frozen=True)
class Measurement:
    """One wrk run and the CPU the server (and database) spent on it."""

    result: loadgen.Result
    cost: cpu.Cost
    # PostgreSQL: connections opened to the database during the run (a pool that churns). A backend
    # that ended before the run did is not in the db CPU column (its CPU left with it).
    connections_opened: int | None = None

    @property
    def rps(self) -> float:
        return self.result.rps


class Table:
    def __init__(self) -> None:
        self.baseline: Measurement | None = None  # bare Flask, no database: "vs bare Flask"
        self.rows: list[str] = []

    def add(
        self,
        label: str,
        measured: Measurement | None = None,
        *,
        floor: Measurement | None = None,
        note: str = "",
        ratio: str | None = None,
    ) -> None:
        """A row; ``floor`` is the bare + query measurement of the same work, ``ratio`` replaces the
        ratio to bare Flask (sign-in and registration give theirs to the bcrypt ceiling)."""
        if measured is None:
            self.rows.append(f"| {label} | | | | | | {ratio or ''} | | | {note} |")
            return
        result, cost = measured.result, measured.cost
        if ratio is None and self.baseline is not None:
            ratio = f"{result.rps / self.baseline.rps:.2f}x"
        to_floor = f"{result.rps / floor.rps:.2f}x" if floor else ""
        cpu_to_floor = f"{cost.total_ms / floor.cost.total_ms:.2f}x" if floor and floor.cost.total_ms else ""
        notes = [note] if note else []
        if result.non_2xx:
            notes.append(f"{result.non_2xx:,} non-2xx")
        if opened := measured.connections_opened:
            notes.append(f"{opened:,} database connection{'s' if opened > 1 else ''} opened during the run")
        if result.socket_errors:
            notes.append(f"{result.socket_errors:,} socket errors")
        database = "" if cost.database_ms is None else f"{cost.database_ms:.2f}"
        cells = [
            label,
            f"{result.rps:,.0f}" if result.rps >= 100 else f"{result.rps:.1f}",
            f"{result.p50_ms:.2f}",
            f"{result.p99_ms:.2f}",
            f"{cost.server_ms:.2f}",
            database,
            ratio or "",
            to_floor,
            cpu_to_floor,
            "; ".join(notes),
        ]
        self.rows.append("| " + " | ".join(cells) + " |")
        print(self.rows[-1], file=sys.stderr, flush=True)

    def render(self) -> str:
        return HEAD + "\n" + "\n".join(self.rows)
