"""Drives wrk (Debian's package) against loopback and parses its latency report."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int = 0  # connect, read, write and timeout errors, summed


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench needs wrk: apt-get install wrk (Debian package)")
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unparsed latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


THREADS = 2  # wrk threads: one per core of the machine the numbers were taken on


def threads_for(connections: int) -> int:
    """How many wrk threads a run with this many connections uses (a script walking tokens needs it)."""
    return min(THREADS, connections)


def static_script(method: str = "GET", body: str | None = None, headers: dict[str, str] | None = None) -> str:
    """A Lua script giving every request the same method, body and headers."""
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = [[{body}]]")
    for name, value in (headers or {}).items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    return "\n".join(lines) + "\n"


def run(
    url: str,
    *,
    connections: int,
    duration: int,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    script: str | None = None,
    timeout: int = 10,
) -> Result:
    """One bounded wrk run; a Lua script sets the method, body and headers, or ``script`` is the script."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script if script is not None else static_script(method, body, headers))
    command = [
        require_wrk(), f"-t{threads_for(connections)}", f"-c{connections}", f"-d{duration}s",
        f"--timeout={timeout}s", "--latency", "-s", lua.name, url,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 60)
    finally:
        Path(lua.name).unlink()
    if done.stderr.strip():  # a script error: wrk goes on without the script's requests
        raise SystemExit(f"wrk {url}: {done.stderr.strip()}")
    return parse(done.stdout)


def _find(pattern: str, output: str) -> str:
    match = re.search(pattern, output, re.M)
    if match is None:
        raise ValueError(f"no {pattern!r} in wrk's report:\n{output}")
    return match.group(1)


def parse(output: str) -> Result:
    """The figures of one wrk report (``--latency``)."""
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", output))
    p50 = _ms(_find(r"^\s+50%\s+(\S+)", output))
    p99 = _ms(_find(r"^\s+99%\s+(\S+)", output))
    requests = int(_find(r"(\d+) requests in", output))
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Result(
        rps,
        p50,
        p99,
        requests,
        int(non_2xx_match.group(1)) if non_2xx_match else 0,
        sum(map(int, errors.groups())) if errors else 0,
    )
