"""The soak's report, in Markdown: the setup, the load's figures, each fault, each invariant."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from bench.soak.invariants import Observed
from bench.soak.records import Records
from bench.soak.verdict import Verdict


def _latency(records: Records) -> list[str]:
    by_kind: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for call in records.calls:
        by_kind[call.kind].append((call.ended - call.started) * 1000)
        statuses[call.kind][call.status] += 1
    rows = ["| request | count | p50 ms | p99 ms | answers |", "|---|---:|---:|---:|---|"]
    for kind, times in sorted(by_kind.items(), key=lambda item: -len(item[1])):
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        answers = ", ".join(f"{status or 'none'} x{n}" for status, n in sorted(statuses[kind].items()))
        rows.append(f"| {kind} | {len(times):,} | {statistics.median(times):.1f} | {p99:.1f} | {answers} |")
    return rows


def _memory(observed: Observed, columns: int = 12) -> list[str]:
    """Each worker's RSS in MB at evenly spaced times: a peak is seen with the fault or load around it,
    not only as a number (one run in four once grew one worker 14% and could not say when)."""
    by_pid: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for sample in observed.memory:
        by_pid[sample.pid].append((sample.at, sample.rss_kb))
    if not by_pid:
        return []
    end = max(at for series in by_pid.values() for at, _ in series)
    ticks = [end * i / (columns - 1) for i in range(columns)]
    lines = ["| worker | " + " | ".join(f"{tick:.0f} s" for tick in ticks) + " |"]
    lines.append("|---|" + "---:|" * columns)
    for pid, series in sorted(by_pid.items()):
        cells = []
        for tick in ticks:
            near = [kb for at, kb in series if abs(at - tick) <= end / (columns - 1) / 2]
            cells.append(f"{max(near) / 1024:.1f}" if near else "")
        lines.append(f"| {pid} | " + " | ".join(cells) + " |")
    return ["## Worker memory (RSS, MB, the highest sample near each time)", "", *lines, ""]


def render(setup: dict[str, str], records: Records, observed: Observed, verdicts: list[Verdict]) -> str:
    lines = ["## Setup", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in setup.items()]
    lines += ["", "## Load", "", *_latency(records), ""]
    if records.surprises:
        seen = ", ".join(f"{kind} x{n}" for kind, n in sorted(records.surprises.items()))
        lines += [f"Answers the client did not expect (each also judged by the invariants): {seen}", ""]
    lines += ["## Faults and prunes", "", "| at (s) | until (s) | what |", "|---:|---:|---|"]
    events = [(f.started, f.ended, f"**{f.name}**: {f.detail}") for f in observed.faults]
    events += [(t.at, t.at, f"prune-tokens: {t.pruned}") for t in observed.tables if t.pruned]
    lines += [f"| {start:.1f} | {end:.1f} | {what} |" for start, end, what in sorted(events)]
    lines += ["", *_memory(observed)]
    lines += ["## Invariants", "", "| invariant | result | figures |", "|---|---|---|"]
    lines += [f"| {v.name} | {'PASS' if v.ok else '**FAIL**'} | {v.detail} |" for v in verdicts]
    failed = [v.name for v in verdicts if not v.ok]
    lines += ["", f"**{'FAILED: ' + ', '.join(failed) if failed else 'All invariants hold.'}**", ""]
    return "\n".join(lines)
