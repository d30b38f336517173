"""The issue's "done when": a newcomer with nothing configured runs ``flask run``, calls
forgot-password, and finds the reset link in the server's log (``FLASK_MAIL_URL`` defaults to
``console://``), sent by the background sender without another request."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests import commands
from tests.helpers import PASSWORD


def post(port: int, path: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_flask_run_with_nothing_configured_logs_the_reset_link(tmp_path: Path):
    port = commands.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "authsvc:create_app", "run", "-p", str(port)],
        cwd=tmp_path,
        env=commands.environment(FLASK_INSTANCE_PATH=str(tmp_path / "instance")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert (
                    post(
                        port,
                        "/api/auth/register",
                        {"username": "ada", "email": "ada@example.com", "password": PASSWORD},
                    )
                    == 201
                )
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
                time.sleep(0.2)
        assert post(port, "/api/auth/password/forgot", {"email": "ada@example.com"}) == 202
        seen = ""
        deadline = time.monotonic() + 15
        while "#reset=" not in seen and time.monotonic() < deadline:
            try:
                seen += lines.get(timeout=0.5)
            except queue.Empty:
                pass
        link = re.search(r"http://127\.0\.0\.1:8000/demo#reset=[A-Za-z0-9_-]{43}", seen)
        assert link, seen[-2000:]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=15)
        reader.join(5)
