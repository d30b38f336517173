"""Accounts: registration, lookup and listing."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from authsvc.exceptions import EmailTaken, NotFound, UsernameTaken
from authsvc.models import Role, User
from authsvc.schemas import username_key
from authsvc.security import PasswordHasher


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
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        _ensure_free(session, key=key, email=email)
        raise UsernameTaken() from None
    return user


def _ensure_free(session: Session, *, key: str, email: str | None) -> None:
    if session.exec(select(User.id).where(User.username_key == key)).first() is not None:
        raise UsernameTaken()
    if email is not None and session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise EmailTaken()


def find_by_username(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username_key == username_key(username))).first()


def list_users(*, session: Session) -> Sequence[User]:
    """Every user, ordered by id (the /list/ contract)."""
    return session.exec(select(User).order_by(col(User.id))).all()


def page_users(*, session: Session, page: int, per_page: int) -> tuple[Sequence[User], int, int]:
    """One page of users by id, with the total and the page count (0 when there are none)."""
    total = session.exec(select(func.count()).select_from(User)).one()
    items = session.exec(
        select(User).order_by(col(User.id)).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return items, total, math.ceil(total / per_page)


def get_user_for(*, session: Session, viewer: User, user_id: int) -> User:
    """A user as seen by ``viewer``: admins see anyone, others only themselves.

    Someone else's id answers 404 rather than 403, so ids cannot be probed.
    """
    if viewer.role != Role.ADMIN and viewer.id != user_id:
        raise NotFound("User not found.")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user
