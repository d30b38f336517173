"""Every database engine a security test creates is disposed of when that test ends.

Apps built inside a test (throttled, production) would otherwise hold their PostgreSQL connections
until garbage collection, and the ResourceWarning it raises then fails whichever test is running.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from authsvc import db
from authsvc.config import Settings


@pytest.fixture(autouse=True)
def _dispose_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    engines: list[Engine] = []
    make_engine = db.make_engine

    def tracked(settings: Settings) -> Engine:
        engine = make_engine(settings)
        engines.append(engine)
        return engine

    monkeypatch.setattr(db, "make_engine", tracked)
    yield
    for engine in engines:
        engine.dispose()
