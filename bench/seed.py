"""Bulk seeding straight into the tables (Core inserts, or COPY on PostgreSQL; one shared password
hash), so a million rows take seconds instead of the hours that a million bcrypt hashes would."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, func, insert, select, update

from authsvc.models import AuthSession, BlockKind, TokenBlocklist, User, utcnow
from bench import bulk

CHUNK = 20_000
T = TypeVar("T")


def chunks(rows: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def user_count(engine: Engine) -> int:
    with engine.connect() as connection:
        total: int = connection.execute(select(func.count()).select_from(User)).scalar_one()
        return total


def users_up_to(engine: Engine, total: int, *, password_hash: str) -> None:
    """Add users named ``user<n>`` until there are ``total`` of them."""
    if engine.dialect.name == "postgresql":
        bulk.users_up_to(engine, total, password_hash=password_hash)
        return
    start = user_count(engine) + 1
    now = utcnow()
    rows = (
        {
            "username": f"user{n}",
            "username_key": f"user{n}",
            "email": f"user{n}@example.com",
            "password_hash": password_hash,
            "role": "user",
            "is_active": True,
            "created_at": now,
        }
        for n in range(start, total + 1)
    )
    with engine.begin() as connection:
        for batch in chunks(rows):
            connection.execute(insert(User), batch)


def make_admin(engine: Engine, username: str) -> None:
    with engine.begin() as connection:
        connection.execute(update(User).where(User.username == username).values(role="admin"))  # type: ignore[arg-type]


def revocations(engine: Engine, *, blocklist_rows: int, sessions: int, user_ids: list[int]) -> None:
    """Fill the blocklist with revoked ids and the session table with sessions, as a busy deployment would."""
    now = utcnow()
    later = now + timedelta(days=14)
    blocked: Iterator[dict[str, Any]] = (
        {"jti": uuid.uuid4().hex, "kind": BlockKind.REFRESH.value, "user_id": user_ids[n % len(user_ids)],
         "created_at": now, "expires_at": later}
        for n in range(blocklist_rows)
    )  # fmt: skip
    live = (
        {"id": uuid.uuid4().hex, "user_id": user_ids[n % len(user_ids)], "created_at": now,
         "last_used_at": now, "user_agent": "bench", "ip": "127.0.0.1", "refresh_jti": uuid.uuid4().hex,
         "access_jti": uuid.uuid4().hex, "rotated_at": now, "expires_at": later}
        for n in range(sessions)
    )  # fmt: skip
    if engine.dialect.name == "postgresql" and blocklist_rows:
        bulk.blocklist(engine, blocklist_rows, users=len(user_ids))  # ids 1..n, as user_ids are here
        blocked = iter(())
    with engine.begin() as connection:
        for batch in chunks(blocked):
            connection.execute(insert(TokenBlocklist), batch)
        for batch in chunks(live):
            connection.execute(insert(AuthSession), batch)


def settle(engine: Engine) -> None:
    """Leave the database as a long-running deployment would have it after a bulk load:
    statistics gathered and (SQLite) the write-ahead log checkpointed into the main file."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.exec_driver_sql("ANALYZE")
        else:
            connection.exec_driver_sql("ANALYZE")
