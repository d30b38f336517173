"""Only serving the app migrates a SQLite file by itself; ``flask db ...`` and other commands never do.

Migrating on every start, commands included, made ``flask db downgrade`` a no-op: the next command
upgraded the file straight back to head before it ran (docs/operations.md).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from authsvc.services.health import head_revision
from tests import commands


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        "FLASK_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "FLASK_INSTANCE_PATH": str(tmp_path / "instance"),
    }


def flask(tmp_path: Path, *args: str) -> commands.Finished:
    return commands.flask(tmp_path, *args, **env_for(tmp_path))


def revision_in_file(tmp_path: Path) -> str | None:
    """The revision recorded in the SQLite file, read without the app (None: none, or no table)."""
    connection = sqlite3.connect(tmp_path / "db.sqlite3")
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table
        return None
    finally:
        connection.close()
    return row[0] if row else None


def test_flask_db_downgrade_base_leaves_no_revision(tmp_path):
    assert flask(tmp_path, "init-db").returncode == 0
    assert revision_in_file(tmp_path) == head_revision()

    downgraded = flask(tmp_path, "db", "downgrade", "base")
    assert downgraded.returncode == 0, downgraded.output
    assert revision_in_file(tmp_path) is None

    current = flask(tmp_path, "db", "current")
    assert current.returncode == 0, current.output
    assert head_revision() not in current.stdout
    assert current.stdout.strip() == ""  # Alembic prints nothing for a database at no revision
    assert revision_in_file(tmp_path) is None


def test_flask_db_upgrade_to_a_revision_stops_there(tmp_path):
    result = flask(tmp_path, "db", "upgrade", "0002")
    assert result.returncode == 0, result.output
    assert revision_in_file(tmp_path) == "0002"
    assert flask(tmp_path, "db", "current").stdout.split()[0] == "0002"


def test_a_command_on_a_fresh_sqlite_file_does_not_migrate_it(tmp_path):
    """It says the schema is missing, in one line, instead of creating it behind the operator's back."""
    result = flask(tmp_path, "prune-tokens")
    line = commands.assert_one_line_error(result, mentions="database not migrated")
    assert "flask db upgrade" in line
    assert revision_in_file(tmp_path) is None


def wait_for_health(port: int, process: subprocess.Popen[str], timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.communicate()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not answer")


def serve(tmp_path: Path, command: list[str], port: int) -> int:
    """Start ``command``, return the status of its first ``/health`` answer, stop it."""
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=commands.environment(**env_for(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        return wait_for_health(port, process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=15)


def test_flask_run_migrates_a_fresh_sqlite_file(tmp_path):
    port = commands.free_port()
    command = [sys.executable, "-m", "flask", "--app", "authsvc:create_app", "run", "-p", str(port)]
    assert serve(tmp_path, command, port) == 200
    assert revision_in_file(tmp_path) == head_revision()


def test_gunicorn_migrates_a_fresh_sqlite_file(tmp_path):
    port = commands.free_port()
    command = [
        sys.executable, "-m", "gunicorn", "-c", "python:authsvc.gunicorn_conf",
        "-b", f"127.0.0.1:{port}", "-w", "2", "authsvc:create_app()",
    ]  # fmt: skip
    assert serve(tmp_path, command, port) == 200
    assert revision_in_file(tmp_path) == head_revision()


def test_servers_with_their_own_instance_folders_migrate_one_fresh_file_once(tmp_path):
    """The migration lock guards the database file, not an instance folder: processes that share
    one SQLite file but keep their secrets apart must not both create the tables (seen in CI:
    "table user already exists" from the second of two servers)."""
    # Each process imports everything first, then all start the app at the same instant.
    code = (
        "import sys, time\n"
        "from authsvc import create_app\n"
        "from authsvc.config import Settings\n"
        "env = {'FLASK_DATABASE_URL': sys.argv[1], 'FLASK_INSTANCE_PATH': sys.argv[2]}\n"
        "settings = Settings.from_env(env)\n"
        "time.sleep(max(0.0, float(sys.argv[3]) - time.time()))\n"
        "create_app(settings)\n"
    )
    start = str(time.time() + 6)
    processes = [  # three fresh files, four processes each: one round alone loses the race too rarely
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                f"sqlite:///{tmp_path / f'shared{round_}.sqlite3'}",
                str(tmp_path / f"instance{round_}-{n}"),
                start,
            ],
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for round_ in range(3)
        for n in range(4)
    ]
    # A hang guard, not a speed check: twelve interpreters importing the app at once on two busy
    # cores took over a minute in one CI run (each import is about 1.5 s of CPU alone).
    errors = [process.communicate(timeout=240)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * len(processes), errors
