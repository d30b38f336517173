"""Starts and stops gunicorn servers for the benchmark, and reads their workers' memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``gunicorn -w 2 -k sync`` on a loopback port, as the issue's peers were measured; or, with
    ``production``, the README's production command (``-c python:authsvc.gunicorn_conf``: gthread
    workers, keep-alive, the access log) with its worker count and bind set through its variables."""

    def __init__(
        self,
        app: str,
        *,
        env: dict[str, str],
        log: Path,
        probe: str = "/health",
        workers: int = 2,
        production: bool = False,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.production = production
        if production:
            command = [sys.executable, "-m", "gunicorn", "-c", "python:authsvc.gunicorn_conf", app]
            env = {**env, "WEB_CONCURRENCY": str(workers), "AUTHSVC_BIND": f"127.0.0.1:{self.port}"}
        else:
            command = [
                sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "sync",
                "-b", f"127.0.0.1:{self.port}", "--timeout", "120", "--no-control-socket", app,
            ]  # fmt: skip
        with log.open("w") as out:
            self.process = subprocess.Popen(
                command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server {app} exited:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(self.base + probe, timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()  # a master whose workers keep failing would otherwise outlive the bench
        raise SystemExit(f"server {app} did not start:\n{log.read_text()[-4000:]}")

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=40)  # the production config's graceful timeout is 30 s
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peaks(pids: list[int]) -> dict[int, int]:
    """Clear each worker's peak-RSS mark and return its current RSS (kB): the idle baseline."""
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    return {pid: status_kb(pid, "VmRSS") for pid in pids}


def peak_above_idle_mb(idle: dict[int, int]) -> float:
    """The largest growth of any one worker's peak RSS over its idle RSS, in MB."""
    return max(status_kb(pid, "VmHWM") - base for pid, base in idle.items()) / 1024
