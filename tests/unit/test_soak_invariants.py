"""The soak's checker can fail: on small made-up records that keep every invariant, each one breaks
exactly when its rule is broken (bench/soak/invariants.py, docs/reliability.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from bench.soak import checks_service, invariants, report
from bench.soak.faults import busiest, cpu_ticks, ticks_of
from bench.soak.records import (
    Call,
    Facts,
    Fault,
    Health,
    Memory,
    Records,
    Refresh,
    Registration,
    Tables,
    Token,
)
from bench.soak.verdict import Rules

RULES = Rules(duration=60, warmup=10, reuse_interval=2)
FAR = 4_000_000_000.0  # an expiry long after the probes
FAULTS = [
    Fault("kill_worker", 12.0, 12.1),
    Fault("terminate_connections", 20.0, 20.2),
    Fault("postgres_outage", 27.0, 37.0),
    Fault("redis_outage", 42.0, 52.0),
]


@dataclass
class Run:
    records: Records
    facts: Facts
    observed: invariants.Observed


def good_run() -> Run:
    """A minute in which every rule holds: steady reads, one of each kind, a replay refused, a 503
    inside the database outage, flat memory, pruned tables, Redis's outage seen and logged."""
    records = Records()
    records.calls = [Call("whoami", s + i / 20, s + i / 20 + 0.01, 200) for s in range(60) for i in range(20)]
    records.calls += [Call(kind, 5.0, 5.1, 200) for kind in invariants.KINDS]
    records.calls.append(Call("whoami", 30.0, 30.01, 503))
    for jti, sid, kind in [("a0", "s0", "access"), ("r1", "s1", "refresh"), ("r2", "s1", "refresh")]:
        records.tokens[jti] = Token(jti, sid, kind, FAR, f"raw-{jti}")
    records.revoked = {"a0": "logout", "r1": "spent"}
    records.refreshes = [Refresh("r1", 5.0, 5.1, 200), Refresh("r1", 10.0, 10.1, 401)]
    records.registrations = [
        Registration("alice", "alice@example.com", 201),
        Registration("ALICE", "other@example.com", 409),
    ]
    facts = Facts(
        users={"alice@example.com": "alice"},
        live_sessions={"s1": "r2"},
        blocklisted={"r1", "s0"},
        probed={"a0": 401, "r1": 401},
        probe_time=1_000.0,
        check_time=1_000.0,
        log_lines=dict.fromkeys(checks_service.PHRASES, 1),
        redis_keys=12,
    )
    health = [Health(s + 0.5, 200, "ok", "fallback" if 42 < s + 0.5 < 52 else "ok") for s in range(60)]
    memory = [Memory(float(s), 100, 100_000) for s in range(60)]
    tables = [Tables(5.0, 10, 5, 0, 0), Tables(55.0, 30, 9, 0, 0)]
    return Run(records, facts, invariants.Observed(list(FAULTS), health, memory, tables))


def failed(run: Run) -> set[str]:
    return {v.name for v in invariants.check(run.records, run.facts, run.observed, RULES) if not v.ok}


def test_the_good_run_keeps_every_invariant():
    assert failed(good_run()) == set()


def _drop_user(run: Run) -> None:
    run.facts.users.clear()


def _leak_409(run: Run) -> None:
    run.facts.users["other@example.com"] = "alice"


def _second_live_refresh(run: Run) -> None:
    run.facts.blocklisted.discard("r1")


def _revoked_answers_200(run: Run) -> None:
    run.facts.probed["a0"] = 200


def _replay_succeeds(run: Run) -> None:
    run.records.refreshes[1] = Refresh("r1", 10.0, 10.1, 200)


def _500_in_a_window(run: Run) -> None:
    run.records.calls.append(Call("list", 30.0, 30.1, 500))


def _503_outside_windows(run: Run) -> None:
    run.records.calls.append(Call("list", 45.0 - 40, 5.1, 503))


def _no_answer_outside_windows(run: Run) -> None:
    run.records.calls.append(Call("refresh", 8.0, 8.2, 0))


def _slow_after_outage(run: Run) -> None:
    run.records.calls = [c for c in run.records.calls if not 37 <= c.ended < 44 or c.kind != "whoami"]


def _memory_grows(run: Run) -> None:
    run.observed.memory = [replace(m, rss_kb=100_000 + 1_000 * int(m.at)) for m in run.observed.memory]


def _overdue_rows(run: Run) -> None:
    run.observed.tables[1] = Tables(55.0, 30, 9, 4, 0)


def _no_fallback_in_health(run: Run) -> None:
    run.observed.health = [replace(h, throttling="ok") for h in run.observed.health]


def _outage_not_logged(run: Run) -> None:
    run.facts.log_lines[checks_service.BUDGETS_BACK] = 0


def _fault_missing(run: Run) -> None:
    run.observed.faults = [f for f in run.observed.faults if f.name != "terminate_connections"]


def _mostly_throttled(run: Run) -> None:
    run.records.calls += [Call("whoami", 1.0, 1.01, 429)] * 200


BROKEN: dict[str, tuple[Callable[[Run], None], str]] = {
    "a 201 registration is missing": (_drop_user, "registrations"),
    "a 409 registration exists": (_leak_409, "registrations"),
    "a session has two live refresh tokens": (_second_live_refresh, "one live refresh token per session"),
    "a revoked token still works": (_revoked_answers_200, "revoked tokens refused"),
    "a spent refresh token worked after the interval": (
        _replay_succeeds,
        "no refresh with a spent token outside the reuse interval",
    ),
    "a 500 even inside an outage": (_500_in_a_window, "no 5xx but 503 in outage windows"),
    "a 503 outside every outage": (_503_outside_windows, "no 5xx but 503 in outage windows"),
    "no answer outside every fault": (_no_answer_outside_windows, "no 5xx but 503 in outage windows"),
    "slow for 7 s after an outage": (_slow_after_outage, "full speed within 5 s of each fault"),
    "worker memory grows": (_memory_grows, "worker memory flat (peak growth < 10%)"),
    "expired rows outlive a prune": (_overdue_rows, "blocklist and sessions bounded by pruning"),
    "/health hides Redis's outage": (_no_fallback_in_health, "throttling outage logged and in /health"),
    "Redis's return is not logged": (_outage_not_logged, "throttling outage logged and in /health"),
    "a fault was never injected": (_fault_missing, "every fault injected"),
    "most requests throttled": (_mostly_throttled, "the load mix ran, not throttled"),
}


@pytest.mark.parametrize("case", BROKEN.values(), ids=BROKEN.keys())
def test_each_broken_rule_is_flagged_by_its_invariant(case):
    breaks, name = case
    run = good_run()
    breaks(run)
    assert failed(run) == {name}


def test_the_report_says_when_a_worker_peaked():
    """A step at one moment and steady growth look alike as one peak figure: the report shows when."""
    run = good_run()
    run.observed.memory = [replace(m, rss_kb=120_000 if m.at >= 30 else 100_000) for m in run.observed.memory]
    verdict = checks_service.memory(run.observed.memory, RULES)
    assert not verdict.ok and "peak 117.2 MB (+20.0%) at 30 s" in verdict.detail
    text = report.render({}, run.records, run.observed, [verdict])
    row = next(line for line in text.splitlines() if line.startswith("| 100 |"))
    assert row.split("|")[2:-1] == [" 97.7 "] * 6 + [" 117.2 "] * 6  # 12 times from 0 to 59 s


def test_the_kill_takes_the_busiest_worker():
    """Its clients move to the others, which reach their working memory and load late: the harshest
    case for *worker memory flat* and *full speed*, in every run rather than by chance."""
    used = {101: 50, 102: 900, 103: 300}
    assert busiest([101, 102, 103], ticks=used.__getitem__) == 102
    assert cpu_ticks(2**22 + 1) == -1  # no such process (past the kernel's largest pid): never chosen


def test_cpu_ticks_are_utime_and_stime_after_an_awkward_name():
    fields = " ".join(str(n) for n in range(3, 53))  # field n holds n; state (3) is a letter in life
    assert ticks_of(f"4242 (gunicorn: worker ) (x) {fields}\n") == 14 + 15
