"""Every invariant the soak checks, in the order the report lists them. Pure: records in, verdicts out,
so each can be shown to fail on small made-up records (tests/unit/test_soak_invariants.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.soak import checks_auth, checks_service
from bench.soak.records import Facts, Fault, Health, Memory, Records, Tables
from bench.soak.verdict import Rules, Verdict

FAULTS = ("kill_worker", "terminate_connections", "postgres_outage", "redis_outage")
# Every kind of request the load must have sent for the run to count (see load.py).
KINDS = (
    "whoami", "list", "refresh", "refresh_tab", "refresh_replay", "login", "register", "register_taken",
    "logout_local", "logout_others", "logout_global", "password", "deactivate",
)  # fmt: skip


@dataclass
class Observed:
    """Everything the run observed, besides the client's records and the end's facts."""

    faults: list[Fault] = field(default_factory=list)
    health: list[Health] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    tables: list[Tables] = field(default_factory=list)


def faults_injected(faults: list[Fault]) -> Verdict:
    names = [fault.name for fault in faults]
    missing = [name for name in FAULTS if name not in names]
    detail = "; ".join(f"{f.name} {f.started:.1f}-{f.ended:.1f} s ({f.detail})" for f in faults)
    return Verdict("every fault injected", not missing, detail + (f"; missing: {missing}" if missing else ""))


def load_shape(records: Records, rules: Rules) -> Verdict:
    """The mix ran (every kind at least once) and throttling, while counting in Redis, refused little."""
    kinds = Counter(call.kind for call in records.calls)
    throttled = sum(1 for call in records.calls if call.status == 429)
    share = throttled / max(1, len(records.calls))
    missing = [kind for kind in KINDS if not kinds[kind]]
    ok = not missing and share < rules.max_throttled
    detail = f"{len(records.calls)} requests, {throttled} answered 429 ({share:.2%}); " + ", ".join(
        f"{kind} {count}" for kind, count in kinds.most_common()
    )
    return Verdict(
        "the load mix ran, not throttled", ok, detail + (f"; never sent: {missing}" if missing else "")
    )


def check(records: Records, facts: Facts, observed: Observed, rules: Rules) -> list[Verdict]:
    return [
        faults_injected(observed.faults),
        load_shape(records, rules),
        checks_auth.registrations(records, facts),
        checks_auth.one_live_refresh_token(records, facts),
        checks_auth.revoked_refused(records, facts),
        checks_auth.spent_refresh_refused(records, rules),
        checks_service.server_errors(records.calls, observed.faults, rules),
        checks_service.recovery(records.calls, observed.faults, rules),
        checks_service.memory(observed.memory, rules),
        checks_service.pruning(observed.tables),
        checks_service.throttling_visible(observed.health, observed.faults, facts, rules),
    ]
