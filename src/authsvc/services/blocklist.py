"""Writes to and reads from ``TokenBlocklist``: the single place revocation is recorded and checked."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, bindparam, func
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from authsvc.models import BlockKind, TokenBlocklist, UTCDateTime

# SQLAlchemy sets __table__ on each table class at runtime; SQLModel's types do not declare it.
_blocklist = TokenBlocklist.__table__  # type: ignore[attr-defined]


def matches(*names: str) -> ScalarSelect[int]:
    """How many of the ids bound to the parameters ``names`` are blocked: a scalar subquery of
    primary-key probes, for the statements that check revocation in the same read as the rest."""
    ids: list[Any] = [bindparam(name) for name in names]
    where = _blocklist.c.jti == ids[0] if len(ids) == 1 else _blocklist.c.jti.in_(ids)
    return core_select(func.count()).select_from(_blocklist).where(where).scalar_subquery()


def _block_statement(insert: Any) -> Any:
    """Built once per dialect: an INSERT that adds the row unless the id is already there."""
    return (
        insert(TokenBlocklist)
        .values(
            jti=bindparam("jti"),
            kind=bindparam("kind"),
            user_id=bindparam("user_id"),
            expires_at=bindparam("expires_at", type_=UTCDateTime()),
        )
        .on_conflict_do_nothing(index_elements=["jti"])
        .returning(col(TokenBlocklist.jti))  # rowcount is not reliable across drivers; RETURNING is
    )


_BLOCK = {"postgresql": _block_statement(pg_insert), "sqlite": _block_statement(sqlite_insert)}


def block(session: Session, *, jti: str, kind: BlockKind, user_id: int | None, expires_at: datetime) -> bool:
    """Add a row unless it is already there; True when this call added it.

    The insert is atomic (ON CONFLICT DO NOTHING), so of two requests spending one refresh token at
    the same moment exactly one sees True: the primary key is the lock.
    """
    params = {"jti": jti, "kind": kind.value, "user_id": user_id, "expires_at": expires_at}
    connection = session.connection()
    return connection.execute(_BLOCK[connection.dialect.name], params).first() is not None


def blocked_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """Which of these token or session ids are blocked: one primary-key lookup."""
    statement = select(TokenBlocklist.jti).where(col(TokenBlocklist.jti).in_(list(ids)))
    return set(session.exec(statement).all())
