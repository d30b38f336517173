"""Fixtures for service-level tests: a database session outside any request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlmodel import Session

from authsvc.db import get_engine, session_scope


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context(), session_scope(get_engine(app)) as session:
        yield session
