"""Accounts: registration and lookup. (Listings and the hot read paths live in ``queries``.)"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from authsvc.audit import NO_CLIENT, ClientInfo, record
from authsvc.domain import MAX_ID, username_key
from authsvc.exceptions import EmailTaken, NotFound, RegistrationClosed, UsernameTaken
from authsvc.models import Role, User
from authsvc.security import PasswordHasher
from authsvc.services.passwords import DEFAULT_MIN_SCORE, check_password
from authsvc.services.queries import UserView


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
        session.flush()  # the new id, for the event committed with the user
        record(
            session,
            "user_created",
            outcome="success",
            user_id=user.id,
            client=client,
            actor_id=actor_id,
            role=role.value,
        )
        session.commit()
    except IntegrityError:
        raise _conflict(session, user) from None
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
    verification: Verification | None = None,
    client: ClientInfo = NO_CLIENT,
) -> User:
    """Self-service sign-up: the password policy applies, then a ``user`` account is created, with
    its address unverified and, when ``verification`` is given, a verification link queued in the
    same transaction.

    Closed registration is refused before anything is looked up, so the refusal says nothing about
    which names or addresses exist. Operators' ``create-user`` calls ``create_user`` directly: it
    only warns about weak passwords.
    """
    if not registration_open:
        raise RegistrationClosed()
    check_password(password, username=username, email=email, min_score=min_score)
    user = _add_user(
        session, hasher=hasher, username=username, password=password, email=email, role=Role.USER
    )
    user.email_verified = False
    try:
        session.flush()  # the id the event (and a verification link's token) names
        if verification is not None:
            verification.queue(session, user)
        record(session, "registration", outcome="success", user_id=user.id, client=client)
        session.commit()
    except IntegrityError:
        raise _conflict(session, user) from None
    return user


class Verification(Protocol):
    """Queues a verification link for a new user (``verification.queue_verification``, bound to its
    mailer); passed in, so that accounts know nothing of mail."""

    def queue(self, session: Session, user: User) -> None: ...


def _ensure_free(session: Session, *, key: str, email: str | None) -> None:
    if session.exec(select(User.id).where(User.username_key == key)).first() is not None:
        raise UsernameTaken()
    if email is not None:
        ensure_email_free(session, email)


def ensure_email_free(session: Session, email: str, *, but: int | None = None) -> None:
    """``EmailTaken`` if a user (other than ``but``) has this address."""
    owner = session.exec(select(User.id).where(User.email == email)).first()
    if owner is not None and owner != but:
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


def find_by_email(session: Session, email: str) -> User | None:
    """The user with this (already lower-cased) address, if any."""
    return session.exec(select(User).where(User.email == email)).first()


def get_user_for(*, session: Session, viewer: UserView, user_id: int) -> User:
    """A user as seen by ``viewer``: admins see anyone, others only themselves.

    Someone else's id answers 404 rather than 403, so ids cannot be probed.
    """
    if viewer.role != Role.ADMIN and viewer.id != user_id:
        raise NotFound("User not found.")
    return get_user(session, user_id)
