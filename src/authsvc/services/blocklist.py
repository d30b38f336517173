"""Writes to and reads from ``TokenBlocklist``: the single place revocation is recorded and checked."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from authsvc.models import BlockKind, TokenBlocklist


def block(session: Session, *, jti: str, kind: BlockKind, user_id: int | None, expires_at: datetime) -> bool:
    """Add a row unless it is already there; True when this call added it.

    The insert is atomic (ON CONFLICT DO NOTHING), so of two requests spending one refresh token at
    the same moment exactly one sees True: the primary key is the lock.
    """
    values = {"jti": jti, "kind": kind.value, "user_id": user_id, "expires_at": expires_at}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(TokenBlocklist)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["jti"])
        .returning(col(TokenBlocklist.jti))  # rowcount is not reliable across drivers; RETURNING is
    )
    return session.exec(statement).first() is not None


def blocked_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """Which of these token or session ids are blocked: one primary-key lookup."""
    statement = select(TokenBlocklist.jti).where(col(TokenBlocklist.jti).in_(list(ids)))
    return set(session.exec(statement).all())
