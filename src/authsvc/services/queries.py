"""The read paths over users: the columns the token check and /list/ read, and the listings.

Nothing here writes (writes live in ``users`` and ``accounts``). The hot paths read with plain Core
statements, and /list/ on SQLite with the driver's cursor; ``tests/unit/test_render.py`` holds what
they produce equal to the plain ORM version.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Engine, Integer, bindparam, false
from sqlalchemy import select as core_select
from sqlmodel import Session, col, func, or_, select

from authsvc import rawsql
from authsvc.db import read_connection
from authsvc.domain import username_key
from authsvc.models import User, UserCounter


class UserView(NamedTuple):
    """A user as read for one request: the columns responses and authorisation need, no ORM state.

    Read with plain Core statements on the hot paths (token checks, /list/), which costs a fraction
    of loading ORM objects.
    """

    id: int
    username: str
    email: str | None
    role: str
    is_active: bool
    created_at: datetime | str  # str: the UTC text the hot paths read (rawsql.utc_text)
    # Section 2's records show it; /list/'s (section 1) never do, and its walk does not read it.
    email_verified: bool = True


class PublicUserView(NamedTuple):
    """The columns of a user anyone signed in may see (/list/ for a non-admin)."""

    id: int
    username: str
    created_at: datetime | str


# SQLAlchemy sets __table__ on each table class at runtime; SQLModel's types do not declare it.
_users = User.__table__  # type: ignore[attr-defined]
USER_COLUMNS = (
    _users.c.id,
    _users.c.username,
    _users.c.email,
    _users.c.role,
    _users.c.is_active,
    _users.c.created_at,
)
PUBLIC_COLUMNS = (_users.c.id, _users.c.username, _users.c.created_at)
# A section 2 user record's columns, in UserView's order.
RECORD_COLUMNS = (*USER_COLUMNS, _users.c.email_verified)


def _users_after(columns: tuple[Any, ...], dialect_name: str) -> Any:
    """One batch of a keyset walk: the next ``batch`` users after id ``after``, in id order, with
    the timestamp as UTC text (``rawsql.utc_text``).

    Core's select for plain column statements: sqlmodel's is typed for up to four columns.
    """
    return (
        core_select(*columns[:-1], rawsql.utc_text(_users.c.created_at, dialect_name))
        .where(_users.c.id > bindparam("after"))
        .order_by(_users.c.id)
        .limit(bindparam("batch", type_=Integer))
    )


_ALL_USERS = rawsql.compile_for_each(lambda dialect: _users_after(USER_COLUMNS, dialect))
_PUBLIC_USERS = rawsql.compile_for_each(lambda dialect: _users_after(PUBLIC_COLUMNS, dialect))


def iter_users(*, engine: Engine, batch: int = 1000) -> Iterator[UserView]:
    """Every user, ordered by id (the /list/ contract), fetched in batches so memory stays flat.

    The generator owns its connection, because a streamed response is still being read after the
    request's session has been closed.
    """
    for id_, username, email, role, is_active, created_at in _keyset_rows(engine, _ALL_USERS, batch):
        yield UserView(id_, username, email, role, bool(is_active), created_at)


def iter_public_users(*, engine: Engine, batch: int = 1000) -> Iterator[PublicUserView]:
    """Like ``iter_users``, but only the public columns: what a non-admin's /list/ shows is all that
    is read, so an email or a role cannot reach that response even by a rendering mistake."""
    yield from map(PublicUserView._make, _keyset_rows(engine, _PUBLIC_USERS, batch))


def _keyset_rows(engine: Engine, statements: rawsql.Statements, batch: int) -> Iterator[tuple[Any, ...]]:
    """The table in id order, one indexed batch per statement, outside any transaction.

    A hundred users are one statement and one round trip; a server-side cursor would cost a
    transaction, a DECLARE, two FETCHes and a CLOSE for the same rows. The walk never holds more
    than one batch, never repeats or skips a user that exists throughout, and, like any listing,
    may or may not include a user created or deleted while it runs.
    """
    after = 0
    with rawsql.cursor(engine, statements) as execute:
        while True:
            rows = execute({"after": after, "batch": batch}).fetchall()
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1][0]


SORTS: dict[str, list[Any]] = {  # order_by terms: columns and their .desc()
    "id": [col(User.id)],
    "created_at": [col(User.created_at), col(User.id)],
    "-created_at": [col(User.created_at).desc(), col(User.id).desc()],
    "username": [col(User.username_key), col(User.id)],
}


@dataclass(frozen=True, slots=True)
class UserFilter:
    """What the admin listing narrows by; ``q`` matches part of a username or email, any case."""

    q: str | None = None
    role: str | None = None
    is_active: bool | None = None


def page_users(
    *, engine: Engine, page: int, per_page: int, where: UserFilter = UserFilter(), sort: str = "id"
) -> tuple[Sequence[UserView], int, int]:
    """One page of users in a stable order, with the total and the page count (0 when none match).

    Every order ends on the id, so paging never skips or repeats a user. Read as plain rows on a
    connection outside any transaction (``read_connection``): an admin page is two small reads.
    """
    conditions = _conditions(where)
    if conditions:
        count = core_select(func.count()).select_from(_users).where(*conditions)
    else:  # the unfiltered total is kept by triggers: one row, however many users there are
        count = core_select(col(UserCounter.total)).where(col(UserCounter.id) == 1)
    rows = (
        core_select(*RECORD_COLUMNS)
        .where(*conditions)
        .order_by(*SORTS[sort])
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    with read_connection(engine) as connection:
        total = connection.execute(count).scalar_one()
        items = [UserView(*row) for row in connection.execute(rows)]
    return items, total, math.ceil(total / per_page)


def list_users(*, session: Session, where: UserFilter = UserFilter()) -> Sequence[User]:
    """Every user matching ``where``, ordered by id, in one read: for ``flask users list``, where an
    operator wants the whole table at once (the API pages instead)."""
    return session.exec(select(User).where(*_conditions(where)).order_by(col(User.id))).all()


def _conditions(where: UserFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.q and "\0" in where.q:
        conditions.append(false())  # no name or email holds a NUL (and PostgreSQL refuses one in text)
    elif where.q:
        pattern = "%" + _escape_like(username_key(where.q)) + "%"
        conditions.append(
            or_(col(User.username_key).like(pattern, escape="\\"), col(User.email).like(pattern, escape="\\"))
        )
    if where.role is not None:
        conditions.append(col(User.role) == where.role)
    if where.is_active is not None:
        conditions.append(col(User.is_active) == where.is_active)
    return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
