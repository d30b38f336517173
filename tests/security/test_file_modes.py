"""Files on disk that hold accounts or secrets are readable by the service's own user only.

The SQLite database holds every password hash and session; its -wal and -shm files hold recent pages
of it; the instance folder holds the development secrets. Each test sets a permissive umask (022, the
common default) so that a file left to the umask would be group- and world-readable and fail.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from authsvc import create_app
from authsvc.config import Settings
from authsvc.db import get_engine
from tests.conftest import make_settings

DB_NAME = "authsvc.sqlite3"


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def serve_one_write(settings: Settings) -> Flask:
    """Start the app the no-configuration way (a SQLite file, migrated on start) and write through it."""
    app = create_app(settings)
    response = app.test_client().post(
        "/api/auth/register",
        json={"username": "newbie", "email": "newbie@example.com", "password": "a-long-enough-password"},
    )
    assert response.status_code == 201, response.data
    return app


def sqlite_files(database: Path) -> list[Path]:
    return [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]


def test_a_fresh_sqlite_database_its_wal_and_shm_and_the_instance_folder_are_private(tmp_path):
    instance = tmp_path / "instance"
    app = serve_one_write(make_settings(tmp_path, database_url="", instance_path=instance))
    try:
        database = instance / DB_NAME
        assert mode(instance) == 0o700
        for path in sqlite_files(database):  # stat while a connection is open: -wal and -shm exist
            assert mode(path) == 0o600, path.name
        assert (
            mode(instance / (DB_NAME + ".migrate-lock")) == 0o600
        )  # the lock lies beside the file it guards
    finally:
        get_engine(app).dispose()


def test_a_database_outside_the_instance_folder_is_private_and_so_is_a_folder_made_for_it(tmp_path):
    database = tmp_path / "data" / "nested" / "users.sqlite3"
    app = serve_one_write(make_settings(tmp_path, database_url=f"sqlite:///{database}"))
    try:
        assert mode(database.parent) == 0o700
        for path in sqlite_files(database):
            assert mode(path) == 0o600, path.name
    finally:
        get_engine(app).dispose()


def test_existing_readable_database_files_and_instance_folder_are_tightened_on_start(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    database = instance / DB_NAME
    first = serve_one_write(make_settings(tmp_path, database_url="", instance_path=instance))
    get_engine(first).dispose()
    # an older version (or a copy, or a restore) left everything readable by group and world
    os.chmod(instance, 0o755)
    os.chmod(database, 0o644)
    for leftover in sqlite_files(database)[1:]:
        leftover.touch(mode=0o644)
        os.chmod(leftover, 0o644)
    app = create_app(make_settings(tmp_path, database_url="", instance_path=instance))
    try:
        assert mode(instance) == 0o700
        for path in sqlite_files(database):
            assert mode(path) == 0o600, path.name
        assert (
            app.test_client()
            .post("/api/auth/login", json={"username": "newbie", "password": "a-long-enough-password"})
            .status_code
            == 200
        )  # the tightened files are the same database
    finally:
        get_engine(app).dispose()


def test_the_instance_folder_made_for_development_secrets_is_private(tmp_path):
    instance = tmp_path / "instance"
    Settings(instance_path=instance).with_instance_secrets()
    assert mode(instance) == 0o700
    assert {mode(path) for path in instance.iterdir()} == {0o600}


def test_an_existing_readable_instance_folder_is_tightened_when_secrets_are_made(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    os.chmod(instance, 0o755)
    Settings(instance_path=instance).with_instance_secrets()
    assert mode(instance) == 0o700
