"""What a new operator types on day one either works or fails with one line, never a traceback.

Each case runs the real command as its own process and checks the exit status, a single line on
stderr naming the problem, and that no password reaches the output.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from authsvc.config import ConfigError, Settings
from tests import commands
from tests.conftest import TEST_DATABASE_URL

# --- a relative FLASK_INSTANCE_PATH (the sample's own ./instance) ---------------------------------


@pytest.mark.parametrize("value", ["./instance", "instance", "run/../instance"])
def test_a_relative_instance_path_is_taken_from_the_working_directory(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"FLASK_INSTANCE_PATH": value})
    assert settings.instance_path == tmp_path / "instance"
    assert settings.instance_path.is_absolute()


def test_an_empty_instance_path_is_one_line_naming_the_variable():
    """Empty would silently mean the working directory, whose mode start-up then tightens to 0700."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FLASK_INSTANCE_PATH": ""})
    assert str(caught.value).startswith("FLASK_INSTANCE_PATH:") and "\n" not in str(caught.value)


def test_flask_command_with_the_samples_relative_instance_path_works(tmp_path: Path):
    result = commands.flask(tmp_path, "routes", FLASK_INSTANCE_PATH="./instance")
    assert result.returncode == 0, result.output
    assert "/token/" in result.stdout
    assert (tmp_path / "instance" / "jwt_secret_key.secret").is_file()


def test_flask_command_with_an_empty_instance_path_exits_with_one_line(tmp_path: Path):
    result = commands.flask(tmp_path, "routes", FLASK_INSTANCE_PATH="")
    commands.assert_one_line_error(result, mentions="FLASK_INSTANCE_PATH")
    assert os.listdir(tmp_path) == []


# --- postgres:// and postgresql:// URLs (what hosting platforms hand out) --------------------------


@pytest.mark.parametrize(
    ("given", "mapped"),
    [
        ("postgres://app:pw@db.internal:5432/authsvc", "postgresql+psycopg://app:pw@db.internal:5432/authsvc"),
        ("postgresql://app:pw@db.internal/authsvc?sslmode=require", "postgresql+psycopg://app:pw@db.internal/authsvc?sslmode=require"),
        ("POSTGRES://app@db/authsvc", "postgresql+psycopg://app@db/authsvc"),
        ("postgresql+psycopg://app@db/authsvc", "postgresql+psycopg://app@db/authsvc"),
        ("sqlite:////var/lib/authsvc/db.sqlite3", "sqlite:////var/lib/authsvc/db.sqlite3"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("variable", ["FLASK_DATABASE_URL", "DATABASE_URL"])
def test_a_plain_postgres_url_is_read_as_psycopg(variable, given, mapped):
    settings = Settings.from_env({variable: given})
    assert settings.database_url == settings.sqlalchemy_url == mapped


@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"), reason="needs TEST_DATABASE_URL=postgresql+psycopg://..."
)
@pytest.mark.parametrize(
    ("variable", "scheme"), [("DATABASE_URL", "postgres"), ("FLASK_DATABASE_URL", "postgresql")]
)
def test_flask_db_current_works_with_a_plain_postgres_url(tmp_path: Path, variable, scheme):
    url = scheme + TEST_DATABASE_URL.removeprefix("postgresql+psycopg")
    result = commands.flask(tmp_path, "db", "current", **{variable: url})
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.output


# --- FLASK_RATELIMIT_STORAGE_URI -------------------------------------------------------------------

BAD_STORAGE = {
    "unknown-scheme": "foo://localhost",
    "no-scheme": "localhost:6379",
    "one-slash": "redis:/localhost:6379",
    "port-not-a-number": "redis://:hunter2pw@localhost:abc/0",
    "port-out-of-range": "redis://:hunter2pw@localhost:70000/0",
    "client-not-installed": "memcached://localhost:11211",
    "async-storage": "async+redis://localhost:6379",
    "empty": "",
}


@pytest.mark.parametrize("value", BAD_STORAGE.values(), ids=BAD_STORAGE.keys())
def test_a_bad_ratelimit_storage_uri_is_one_line_naming_the_variable(value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FLASK_RATELIMIT_STORAGE_URI": value})
    message = str(caught.value)
    assert message.startswith("FLASK_RATELIMIT_STORAGE_URI:") and "\n" not in message
    assert "hunter2pw" not in message


@pytest.mark.parametrize(
    "value",
    [
        "memory://",
        "redis://localhost:6379/0",
        "rediss://:pw@redis.internal:6380/1",
        "redis://",
        "redis+unix:///run/redis/redis.sock",
        "redis+sentinel://sentinel.internal:26379/mymaster",
        "redis+cluster://node1:7000,node2:7001",
    ],
)
def test_a_redis_or_memory_storage_uri_is_accepted(value):
    assert Settings.from_env({"FLASK_RATELIMIT_STORAGE_URI": value}).ratelimit_storage_uri == value


@pytest.mark.parametrize("key", ["unknown-scheme", "port-not-a-number", "client-not-installed"])
def test_flask_command_with_a_bad_ratelimit_storage_uri_exits_with_one_line(tmp_path: Path, key):
    result = commands.flask(
        tmp_path,
        "routes",
        FLASK_RATELIMIT_STORAGE_URI=BAD_STORAGE[key],
        FLASK_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    commands.assert_one_line_error(result, mentions="FLASK_RATELIMIT_STORAGE_URI", never=("hunter2pw",))


# --- FLASK_SQLITE_SYNCHRONOUS ----------------------------------------------------------------------


def test_flask_command_with_a_bad_sqlite_synchronous_exits_with_one_line(tmp_path: Path):
    result = commands.flask(
        tmp_path, "routes", FLASK_SQLITE_SYNCHRONOUS="off", FLASK_INSTANCE_PATH=str(tmp_path / "instance")
    )
    commands.assert_one_line_error(result, mentions="FLASK_SQLITE_SYNCHRONOUS")
