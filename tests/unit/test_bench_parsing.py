"""The benchmark's parsers: wrk's report and /proc's CPU times (no server, no wrk needed)."""

from __future__ import annotations

import os

import pytest
from bench import cpu, loadgen

WRK_REPORT = """Running 3s test @ http://127.0.0.1:40000/list/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.90ms    2.01ms  40.12ms   88.00%
    Req/Sec     1.02k   100.00     1.20k    70.00%
  Latency Distribution
     50%  750.00us
     75%    8.50ms
     90%    9.90ms
     99%    1.20s
  6120 requests in 3.00s, 9.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 12
Requests/sec:   2040.12
Transfer/sec:      3.03MB
"""


def test_wrk_report_figures() -> None:
    result = loadgen.parse(WRK_REPORT)
    assert result == loadgen.Result(
        rps=2040.12, p50_ms=0.75, p99_ms=1200.0, requests=6120, non_2xx=12, socket_errors=5
    )


def test_wrk_report_without_errors() -> None:
    clean = "\n".join(
        line for line in WRK_REPORT.splitlines() if not line.strip().startswith(("Socket", "Non-2xx"))
    )
    result = loadgen.parse(clean)
    assert (result.non_2xx, result.socket_errors) == (0, 0)


@pytest.mark.parametrize("name", ["python", "gunicorn: worker [a) b]", "x) 1 2 3 4"])
def test_stat_ticks_skips_any_process_name(name: str) -> None:
    rest = "S 1 2 3 4 5 6 7 8 9 10 111 222 13 14 15"
    assert cpu.stat_ticks(f"4242 ({name}) {rest}") == 111 + 222


def test_ticks_of_this_process_and_of_none() -> None:
    assert cpu.ticks(os.getpid()) is not None
    assert cpu.ticks(2**22 + 1) is None  # above the kernel's pid limit: never a process


def test_spent_counts_new_processes_in_full() -> None:
    assert cpu.spent_ms({1: 10, 2: 5}, {1: 30, 3: 7}) == (20 + 7) * cpu.TICK_MS
