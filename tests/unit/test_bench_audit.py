"""The audit rows of the benchmark: the "without" app's stand-in statement, and paired rounds' summaries."""

from __future__ import annotations

import pytest
from bench import cpu, loadgen, no_audit, paired
from bench.table import Measurement
from sqlalchemy import func, select
from sqlmodel import Session

from authsvc import audit
from authsvc.models import AuditEvent


def _rows(session: Session) -> int:
    count: int = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    return count


@pytest.mark.parametrize("skipped", [False, True])
def test_the_stand_in_skips_only_the_row(
    session: Session, monkeypatch: pytest.MonkeyPatch, skipped: bool
) -> None:
    if skipped:
        monkeypatch.setattr(audit, "_write_row", no_audit.skip_row)
    before = _rows(session)
    audit.record(session, "refresh", outcome="success", user_id=None, session_id="s1")
    assert session.info[audit._PENDING][-1]["event"] == "refresh"  # the line still waits for the commit
    session.commit()
    assert _rows(session) == before + (0 if skipped else 1)


def _measured(rps: float, server_ms: float, database_ms: float | None = None) -> Measurement:
    result = loadgen.Result(rps=rps, p50_ms=rps / 10, p99_ms=rps / 5, requests=100, non_2xx=1)
    return Measurement(result, cpu.Cost(server_ms, database_ms))


def test_median_of_takes_each_figures_median_and_sums_counts() -> None:
    runs = [_measured(100, 5.0, 1.0), _measured(300, 4.0, 3.0), _measured(200, 6.0, 2.0)]
    median = paired.median_of(runs)
    assert (median.rps, median.result.p50_ms, median.result.p99_ms) == (200, 20, 40)
    assert (median.result.requests, median.result.non_2xx) == (300, 3)
    assert median.cost == cpu.Cost(5.0, 2.0)
    assert paired.median_of([_measured(100, 5.0)]).cost.database_ms is None


def test_versus_gives_the_ratio_of_medians_and_the_paired_range() -> None:
    kept = [_measured(90, 2.2), _measured(100, 2.0), _measured(95, 2.1)]
    skipped = [_measured(100, 2.0), _measured(100, 2.0), _measured(100, 2.0)]
    assert paired.versus(kept, skipped, "with / without audit row") == (
        "with / without audit row: 0.950x req/s (rounds 0.900-1.000), 1.050x CPU/req (rounds 1.000-1.100)"
    )


def test_interleaved_alternates_which_server_goes_first() -> None:
    order: list[str] = []

    def measure(server: str) -> Measurement:
        order.append(server)
        return _measured(len(order), 1.0)

    first, second = paired.interleaved(("a", "b"), measure, 3)  # type: ignore[arg-type]
    assert order == ["a", "b", "b", "a", "a", "b"]
    assert [m.rps for m in first] == [1, 4, 5] and [m.rps for m in second] == [2, 3, 6]
