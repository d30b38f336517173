"""The invariants about the service itself: errors only inside outage windows, speed back after each
fault, flat worker memory, tables bounded by pruning, throttling's outage visible."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict

from bench.soak.records import Call, Facts, Fault, Health, Memory, Tables
from bench.soak.verdict import Rules, Verdict

# What each half of throttling logs when Redis goes and comes back (docs/operations.md).
BUDGETS_LOST = "rate limit storage unreachable: counting password checks in memory"
BUDGETS_BACK = "rate limit storage reachable again"
LIMITER_LOST = "Rate limit storage unreachable - falling back to in-memory storage"
LIMITER_BACK = "Rate limit storage recovered"
PHRASES = (BUDGETS_LOST, BUDGETS_BACK, LIMITER_LOST, LIMITER_BACK)


def _inside(call: Call, faults: list[Fault], rules: Rules) -> Fault | None:
    for fault in faults:
        if call.started <= fault.ended + rules.after and call.ended >= fault.started - rules.before:
            return fault
    return None


def server_errors(calls: list[Call], faults: list[Fault], rules: Rules) -> Verdict:
    """No 5xx but 503, and no request left unanswered, except during a fault's window (its start minus
    ``before`` to its end plus ``after``): a kill cuts the requests in flight, an outage answers 503."""
    bad: Counter[tuple[str, int]] = Counter()
    allowed: Counter[tuple[str, int]] = Counter()
    for call in calls:
        if call.status != 0 and call.status < 500:
            continue
        fault = _inside(call, faults, rules) if call.status in (0, 503) else None
        if fault is None:
            bad[(call.kind, call.status)] += 1
        else:
            allowed[(fault.name, call.status)] += 1
    detail = f"in windows (-{rules.before:g} s, +{rules.after:g} s): " + (
        ", ".join(f"{name} {status or 'no answer'} x{n}" for (name, status), n in sorted(allowed.items()))
        or "none"
    )
    if bad:
        detail += "; outside: " + ", ".join(
            f"{k} {s or 'no answer'} x{n}" for (k, s), n in sorted(bad.items())
        )
    return Verdict("no 5xx but 503 in outage windows", not bad, detail)


def _rates(calls: list[Call]) -> dict[int, int]:
    """Answered requests (not 5xx, not /health) per second, by the second they ended in."""
    rates: dict[int, int] = defaultdict(int)
    for call in calls:
        if call.kind != "health" and 0 < call.status < 500:
            rates[int(call.ended)] += 1
    return rates


def recovery(calls: list[Call], faults: list[Fault], rules: Rules) -> Verdict:
    """Within ``recovery`` s of each fault's end, a whole second answers at least ``speed`` times the
    median second of the quiet minute before it (no fault, warm-up over)."""
    rates = _rates(calls)
    disturbed = {s for f in faults for s in range(int(f.started) - 1, int(f.ended + rules.recovery) + 2)}
    quiet = [s for s in range(math.ceil(rules.warmup), int(rules.duration) - 1) if s not in disturbed]
    notes, ok = [], bool(faults)
    for fault in faults:
        near = [rates[s] for s in quiet if fault.started - 60 <= s < fault.started]
        baseline = statistics.median(near if len(near) >= 5 else [rates[s] for s in quiet] or [0])
        first = math.ceil(fault.ended)
        back = next(
            (s for s in range(first, int(rules.duration)) if rates[s] >= rules.speed * baseline), None
        )
        took = None if back is None else back + 1 - fault.ended
        fine = took is not None and took <= rules.recovery
        ok &= fine
        shown = "never" if took is None else f"{took:.1f} s"
        notes.append(f"{fault.name}: baseline {baseline:g} req/s, back to {rules.speed:.0%} in {shown}")
    return Verdict(f"full speed within {rules.recovery:g} s of each fault", ok, "; ".join(notes))


def memory(samples: list[Memory], rules: Rules) -> Verdict:
    """Each worker's peak RSS after its warm-up (``warmup`` s of the run and of its own life) stays
    within ``rss_growth`` of its RSS when the warm-up ended."""
    by_pid: dict[int, list[Memory]] = defaultdict(list)
    for sample in samples:
        by_pid[sample.pid].append(sample)
    notes, ok, checked = [], True, 0
    for pid, series in sorted(by_pid.items()):
        series.sort(key=lambda s: s.at)
        start = max(rules.warmup, series[0].at + rules.warmup)
        after = [s for s in series if s.at >= start]
        if len(after) < 2:
            notes.append(f"pid {pid}: too young to judge")
            continue
        checked += 1
        base, highest = after[0].rss_kb, max(after, key=lambda s: s.rss_kb)
        growth = highest.rss_kb / base - 1
        ok &= growth < rules.rss_growth
        notes.append(
            f"pid {pid}: {base / 1024:.1f} MB -> peak {highest.rss_kb / 1024:.1f} MB ({growth:+.1%})"
            f" at {highest.at:.0f} s"
        )
    return Verdict(
        f"worker memory flat (peak growth < {rules.rss_growth:.0%})", ok and checked > 0, "; ".join(notes)
    )


def pruning(samples: list[Tables]) -> Verdict:
    """Before every prune but the first (and at the end), nothing the previous prune could drop is left."""
    later = samples[1:]
    stale = [s for s in later if s.overdue_blocklist or s.overdue_sessions]
    counts = ", ".join(f"{s.at:.0f}s {s.blocklist}/{s.sessions}" for s in samples)
    detail = f"blocklist/session rows before each prune: {counts}"
    if stale:
        detail += f"; overdue rows left: {[(s.at, s.overdue_blocklist, s.overdue_sessions) for s in stale]}"
    return Verdict("blocklist and sessions bounded by pruning", bool(later) and not stale, detail)


def throttling_visible(health: list[Health], faults: list[Fault], facts: Facts, rules: Rules) -> Verdict:
    """While Redis is cut /health says ``fallback``; within ``recovery`` s of its return it says ``ok``
    again; the log tells the loss (both halves of throttling) and the return (the budgets'; Flask-
    Limiter's own return is retried on a backoff, so it is reported, not required). Before the cut Redis
    held the counts: /health said ``ok`` and its database has keys."""
    outage = next((f for f in faults if f.name == "redis_outage"), None)
    if outage is None:
        return Verdict("throttling outage logged and in /health", False, "no Redis outage was injected")
    before = {h.throttling for h in health if h.at < outage.started - 1 and h.status == 200}
    during = Counter(h.throttling for h in health if outage.started + 1 < h.at < outage.ended)
    back = next((h.at for h in health if h.at > outage.ended and h.throttling == "ok"), None)
    took = None if back is None else back - outage.ended
    logged = {phrase: facts.log_lines.get(phrase, 0) for phrase in PHRASES}
    ok = (
        before == {"ok"} and during.get("fallback", 0) > 0 and set(during) <= {"fallback"}
        and took is not None and took <= rules.recovery and facts.redis_keys > 0
        and logged[BUDGETS_LOST] > 0 and logged[BUDGETS_BACK] > 0 and logged[LIMITER_LOST] > 0
    )  # fmt: skip
    again = "never" if took is None else f"{took:.1f} s after"
    lines = "; ".join(f"'{phrase}' x{count}" for phrase, count in logged.items())
    detail = (
        f"/health before: {sorted(before)}; during: {dict(during)}; 'ok' again {again}; "
        f"log: {lines}; {facts.redis_keys} Redis keys at the end"
    )
    return Verdict("throttling outage logged and in /health", ok, detail)
