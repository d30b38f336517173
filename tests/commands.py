"""Run the operator's real commands (gunicorn, ``flask ...``) as processes, the way they are typed.

Each runs in its own working directory with no ``FLASK_*`` variable but those given, so neither the
developer's environment nor a ``.env`` above the checkout leaks in.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**env: str) -> dict[str, str]:
    """The test's environment without any ``FLASK_*`` or ``DATABASE_URL``, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_") and k != "DATABASE_URL"}
    clean.update(env)
    return clean


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Finished:
    """Run ``command`` to its end; past ``timeout`` seconds its whole process group is killed and the
    test fails with what it printed (a server that never stops must not hang the suite)."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: the workers it forks are killed with it
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{command[2]} still running after {timeout} s:\n{stdout}{stderr[-3000:]}")
    return Finished(process.returncode, stdout, stderr)


def gunicorn(tmp_path: Path, timeout: float = 60, **env: str) -> Finished:
    """The production command of docs/deployment.md, on a free port of 127.0.0.1.

    The timeout only stops a server that never stops (the failure these tests look for): it is
    not a speed limit. 10 s was too short in CI, where both suites run side by side on two cores
    and importing the app alone took longer; the server printed nothing before it was killed."""
    command = [
        sys.executable, "-m", "gunicorn", "-c", "python:authsvc.gunicorn_conf",
        "-b", f"127.0.0.1:{free_port()}", "authsvc:create_app()",
    ]  # fmt: skip
    return run(command, tmp_path, environment(**env), timeout)


def flask(tmp_path: Path, *args: str, timeout: float = 60, **env: str) -> Finished:
    """``flask --app authsvc:create_app ARGS``."""
    command = [sys.executable, "-m", "flask", "--app", "authsvc:create_app", *args]
    return run(command, tmp_path, environment(**env), timeout)


def assert_one_line_error(result: Finished, *, mentions: str, never: tuple[str, ...] = ()) -> str:
    """A refusal an operator can read: non-zero exit, one line on stderr naming the problem, no
    traceback, and nothing in ``never`` (a password) anywhere in the output."""
    assert result.returncode != 0, result.output
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert mentions in lines[0], lines[0]
    for secret in never:
        assert secret not in result.output, result.output
    return lines[0]
