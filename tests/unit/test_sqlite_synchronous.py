"""SQLite is durable by default: ``synchronous=FULL`` syncs the WAL at every commit, so a power loss
cannot take back a commit (for an auth store, a spent refresh token that would work again).
``FLASK_SQLITE_SYNCHRONOUS=normal`` keeps the faster mode for those who choose it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from authsvc.config import Settings
from authsvc.db import make_engine

FULL, NORMAL = 2, 1  # what PRAGMA synchronous reads back


def _synchronous(tmp_path: Path, **overrides: object) -> int:
    settings = Settings.from_env({}, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", **overrides)
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("PRAGMA synchronous")).scalar_one())
    finally:
        engine.dispose()


def test_sqlite_syncs_every_commit_by_default(tmp_path: Path):
    assert _synchronous(tmp_path) == FULL


@pytest.mark.parametrize(("value", "expected"), [("full", FULL), ("normal", NORMAL), ("NORMAL", NORMAL)])
def test_the_setting_chooses_the_mode(tmp_path: Path, value: str, expected: int):
    assert _synchronous(tmp_path, sqlite_synchronous=value) == expected
