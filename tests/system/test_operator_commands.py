"""The account commands of issue 11, item 8 as an operator runs them: a real ``flask`` process on
SQLite or PostgreSQL, where a refusal must be one line on stderr and a non-zero exit."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import PASSWORD
from tests.system.conftest import database_for_servers, flask_cli


def one_line_refusal(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database with one admin (root) and one user (alice)."""
    url = database_for_servers(tmp_path_factory.mktemp("operator"))
    if url.startswith("sqlite"):
        assert flask_cli("init-db", database_url=url).returncode == 0  # commands never migrate by themselves
    for args in (["root", "--admin"], ["alice", "--email", "alice@example.com"]):
        made = flask_cli("create-user", *args, "--password", PASSWORD, database_url=url)
        assert made.returncode == 0, made.stderr
    return url


def test_refusing_to_delete_the_last_admin_is_one_line_on_stderr(database: str) -> None:
    done = flask_cli("delete-user", "root", "--yes", database_url=database)
    assert one_line_refusal(done) == "Error: The last active admin cannot be removed."


def test_a_short_password_is_one_line_on_stderr(database: str) -> None:
    line = one_line_refusal(flask_cli("set-password", "alice", "--password", "short", database_url=database))
    assert line.startswith("Error: ") and "8 to 1024 characters" in line
