"""Accounts: registration, lookup and listing."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Engine, String, false, type_coerce
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, or_, select

from authsvc.audit import NO_CLIENT, ClientInfo, audit
from authsvc.domain import MAX_ID, username_key
from authsvc.exceptions import EmailTaken, NotFound, RegistrationClosed, UsernameTaken
from authsvc.models import Role, User, UserCounter
from authsvc.security import PasswordHasher
from authsvc.services.passwords import DEFAULT_MIN_SCORE, check_password


def create_user(
    *,
    session: Session,
    hasher: PasswordHasher,
    username: str,
    password: str,
    email: str | None,
    role: Role = Role.USER,
) -> User:
    """Create an account; the inputs' shape is already validated by the schemas.

    The unique indexes decide races: of two concurrent registrations of one name, one insert
    fails and becomes ``UsernameTaken`` instead of a 500.
    """
    user = _add_user(session, hasher=hasher, username=username, password=password, email=email, role=role)
    try:
        session.commit()
    except IntegrityError:
        raise _conflict(session, user) from None
    return user


def create_by_admin(
    *,
    session: Session,
    hasher: PasswordHasher,
    username: str,
    password: str,
    email: str,
    role: Role,
    actor_id: int,
    min_score: int = DEFAULT_MIN_SCORE,
    client: ClientInfo = NO_CLIENT,
) -> User:
    """An admin makes an account (whatever ``FLASK_REGISTRATION`` says): registration's password
    policy applies, since the admin hands the password to someone; the audit line names the admin."""
    check_password(password, username=username, email=email, min_score=min_score)
    user = _add_user(session, hasher=hasher, username=username, password=password, email=email, role=role)
    try:
        session.commit()
    except IntegrityError:
        raise _conflict(session, user) from None
    audit(
        "user_created", outcome="success", user_id=user.id, client=client, actor_id=actor_id, role=user.role
    )
    return user


def _add_user(
    session: Session, *, hasher: PasswordHasher, username: str, password: str, email: str | None, role: Role
) -> User:
    """Add a new user to the session when the name and email look free; the caller commits."""
    key = username_key(username)
    _ensure_free(session, key=key, email=email)
    user = User(
        username=username,
        username_key=key,
        email=email,
        password_hash=hasher.hash(password),
        role=role.value,
    )
    session.add(user)
    return user


def _conflict(session: Session, user: User) -> UsernameTaken | EmailTaken:
    """What a unique index refused, after rolling back: someone took the name or the email between
    our check and our commit. Raised by the caller, so the commit stays visible where it happens."""
    key, email = user.username_key, user.email
    session.rollback()
    try:
        _ensure_free(session, key=key, email=email)
    except (UsernameTaken, EmailTaken) as taken:
        return taken
    return UsernameTaken()


def register(
    *,
    session: Session,
    hasher: PasswordHasher,
    username: str,
    password: str,
    email: str,
    min_score: int = DEFAULT_MIN_SCORE,
    registration_open: bool = True,
) -> User:
    """Self-service sign-up: the password policy applies, then a ``user`` account is created.

    Closed registration is refused before anything is looked up, so the refusal says nothing about
    which names or addresses exist. Operators' ``create-user`` calls ``create_user`` directly: it
    only warns about weak passwords.
    """
    if not registration_open:
        raise RegistrationClosed()
    check_password(password, username=username, email=email, min_score=min_score)
    return create_user(session=session, hasher=hasher, username=username, password=password, email=email)


def _ensure_free(session: Session, *, key: str, email: str | None) -> None:
    if session.exec(select(User.id).where(User.username_key == key)).first() is not None:
        raise UsernameTaken()
    if email is not None:
        ensure_email_free(session, email)


def ensure_email_free(session: Session, email: str) -> None:
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise EmailTaken()


def get_user(session: Session, user_id: int) -> User:
    """The user with this id, or ``NotFound``."""
    # An id beyond the column's range names no row; asking the database would only be an error.
    user = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFound("User not found.")
    return user


def find_by_username(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username_key == username_key(username))).first()


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
    created_at: datetime | str  # str: SQLite's stored UTC text, see iter_users


class PublicUserView(NamedTuple):
    """The columns of a user anyone signed in may see (/list/ for a non-admin)."""

    id: int
    username: str
    created_at: datetime | str


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
_ALL_USERS = select(*USER_COLUMNS).order_by(_users.c.id)
_PUBLIC_USERS = select(*PUBLIC_COLUMNS).order_by(_users.c.id)


def _sqlite_text(columns: tuple[Any, ...]) -> str:
    """SQLite keeps the timestamp as text; reading that text as is skips parsing it only to print it again."""
    return str(
        select(*columns[:-1], type_coerce(_users.c.created_at, String))
        .order_by(_users.c.id)
        .compile(dialect=sqlite.dialect())
    )


_ALL_USERS_SQLITE = _sqlite_text(USER_COLUMNS)
_PUBLIC_USERS_SQLITE = _sqlite_text(PUBLIC_COLUMNS)


def iter_users(*, engine: Engine, batch: int = 1000) -> Iterator[UserView]:
    """Every user, ordered by id (the /list/ contract), fetched in batches so memory stays flat.

    The generator owns its connection (a server-side cursor on PostgreSQL), because a streamed
    response is still being read after the request's session has been closed.
    """
    if engine.dialect.name == "sqlite":
        rows = _sqlite_rows(engine, _ALL_USERS_SQLITE, batch)
        for id_, username, email, role, is_active, created_at in rows:
            yield UserView(id_, username, email, role, bool(is_active), created_at)
        return
    with engine.connect() as connection:  # a server-side cursor: the client never holds the table
        for row in connection.execution_options(yield_per=batch).execute(_ALL_USERS):
            yield UserView(*row)


def iter_public_users(*, engine: Engine, batch: int = 1000) -> Iterator[PublicUserView]:
    """Like ``iter_users``, but only the public columns: what a non-admin's /list/ shows is all that
    is read, so an email or a role cannot reach that response even by a rendering mistake."""
    if engine.dialect.name == "sqlite":
        yield from map(PublicUserView._make, _sqlite_rows(engine, _PUBLIC_USERS_SQLITE, batch))
        return
    with engine.connect() as connection:
        yield from map(
            PublicUserView._make, connection.execution_options(yield_per=batch).execute(_PUBLIC_USERS)
        )


def _sqlite_rows(engine: Engine, statement: str, batch: int) -> Iterator[tuple[Any, ...]]:
    """SQLite's driver cursor directly: the statements are fixed, and on this path (every /list/
    call) SQLAlchemy's result machinery costs more than the query itself."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(statement)
        while rows := cursor.fetchmany(batch):
            yield from rows
        cursor.close()
    finally:
        connection.close()  # back to the pool


SORTS = {
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
    *, session: Session, page: int, per_page: int, where: UserFilter = UserFilter(), sort: str = "id"
) -> tuple[Sequence[User], int, int]:
    """One page of users in a stable order, with the total and the page count (0 when none match).

    Every order ends on the id, so paging never skips or repeats a user.
    """
    conditions = _conditions(where)
    if conditions:
        total = session.exec(select(func.count()).select_from(User).where(*conditions)).one()
    else:  # the unfiltered total is kept by triggers: one row, however many users there are
        total = session.exec(select(UserCounter.total).where(UserCounter.id == 1)).one()
    items = session.exec(
        select(User).where(*conditions).order_by(*SORTS[sort]).offset((page - 1) * per_page).limit(per_page)
    ).all()
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
        conditions.append(User.role == where.role)
    if where.is_active is not None:
        conditions.append(User.is_active == where.is_active)
    return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_user_for(*, session: Session, viewer: UserView, user_id: int) -> User:
    """A user as seen by ``viewer``: admins see anyone, others only themselves.

    Someone else's id answers 404 rather than 403, so ids cannot be probed.
    """
    if viewer.role != Role.ADMIN and viewer.id != user_id:
        raise NotFound("User not found.")
    return get_user(session, user_id)
