"""The production server stops on a configuration error instead of forking failing workers forever.

gunicorn restarts a worker that exits with an ordinary error, so a configuration error in every
worker used to mean a server that listens, never answers, and prints the same line dozens of times
a second. These run docs/deployment.md's production command itself.
"""

from __future__ import annotations

from pathlib import Path

from tests import commands
from tests.helpers import sample_value

CONFIG_ERROR = "authsvc: configuration error: "


def assert_stopped_with_one_line(result: commands.Finished, variable: str) -> None:
    assert result.returncode != 0, result.output
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if CONFIG_ERROR in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{CONFIG_ERROR}{variable}:"), lines[0]


def test_gunicorn_without_production_secrets_stops_with_one_line(tmp_path: Path):
    result = commands.gunicorn(tmp_path, FLASK_ENVIRONMENT="production")
    assert_stopped_with_one_line(result, "FLASK_JWT_SECRET_KEY")
    assert "Booting worker" not in result.output  # refused before any worker was forked


def test_gunicorn_stops_when_a_worker_meets_a_configuration_error(tmp_path: Path):
    """What only a worker can find (here an emptied kept secret) must halt the server too: the
    worker exits with gunicorn's boot-error status, which stops the arbiter, instead of status 2,
    which gunicorn answers by forking a replacement."""
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700)
    (instance / "jwt_secret_key.secret").write_text("")
    # One worker: with several failing at once gunicorn's own halt can race (below).
    result = commands.gunicorn(tmp_path, FLASK_INSTANCE_PATH=str(instance), WEB_CONCURRENCY="1")
    assert result.returncode == 3, result.output  # gunicorn.arbiter.Arbiter.WORKER_BOOT_ERROR
    assert "Traceback" not in result.output, result.output
    assert "Worker failed to boot" in result.output
    assert f"{CONFIG_ERROR}FLASK_JWT_SECRET_KEY:" in result.stderr


def test_gunicorn_with_several_workers_meeting_a_configuration_error_stops_too(tmp_path: Path):
    """Several workers failing together still stop the server, non-zero, within the time limit and
    with the one line. (When two exit at once gunicorn 27's arbiter may print a traceback of its own
    HaltServer while halting, and exit 1 rather than 3: seen in CI; the server stops either way.)"""
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700)
    (instance / "jwt_secret_key.secret").write_text("")
    result = commands.gunicorn(tmp_path, FLASK_INSTANCE_PATH=str(instance), WEB_CONCURRENCY="4")
    assert result.returncode != 0, result.output
    assert f"{CONFIG_ERROR}FLASK_JWT_SECRET_KEY:" in result.stderr


def test_gunicorn_with_the_samples_secrets_stops_with_one_line(tmp_path: Path):
    """The placeholders of .env.sample are long enough for the length rule, and publicly known."""
    jwt_secret = sample_value("FLASK_JWT_SECRET_KEY")
    flask_secret = sample_value("FLASK_SECRET_KEY")
    result = commands.gunicorn(
        tmp_path,
        FLASK_ENVIRONMENT="production",
        FLASK_JWT_SECRET_KEY=jwt_secret,
        FLASK_SECRET_KEY=flask_secret,
    )
    assert_stopped_with_one_line(result, "FLASK_JWT_SECRET_KEY")
    assert jwt_secret not in result.output and flask_secret not in result.output
