"""Changing accounts: password change, role and activation, email, deletion.

Each change that should end a user's existing sign-ins revokes their sessions in the same request.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from authsvc.audit import NO_CLIENT, ClientInfo, record
from authsvc.db import lock_for_write
from authsvc.domain import PASSWORD, Level, needs_step_up
from authsvc.exceptions import Aal2Required, EmailTaken, InvalidCredentials, LastAdmin
from authsvc.messages import Kind
from authsvc.models import Purpose, Role, User
from authsvc.security import PasswordHasher, TokenCodec
from authsvc.services import onetime, sessions
from authsvc.services.outbox import Mailer
from authsvc.services.passwords import DEFAULT_MIN_SCORE, check_password
from authsvc.services.queries import UserView
from authsvc.services.sessions import TokenPair
from authsvc.services.users import ensure_email_free, get_user, get_user_for


def change_password(
    *,
    session: Session,
    hasher: PasswordHasher,
    codec: TokenCodec,
    user_id: int,
    current_password: str,
    new_password: str,
    min_score: int = DEFAULT_MIN_SCORE,
    mailer: Mailer | None = None,
    level: Level = PASSWORD,
    client: ClientInfo = NO_CLIENT,
) -> TokenPair:
    """Set a new password, sign out every session (the caller's too) and start a fresh one.

    Outstanding links (reset, verification, email change) stop working, and the address (when
    there is one and a ``mailer``) is told: a notice is what lets a user whose session was stolen
    notice the takeover. ``level`` is the caller's session's: a user with a second factor needs
    ``aal`` 2 (``Aal2Required``), and the new session keeps that level.
    """
    user = get_user(session, user_id)
    if needs_step_up(mfa_enabled=user.mfa_enabled, aal=level.aal):
        raise Aal2Required()
    if not hasher.verify(current_password, user.password_hash):
        session.rollback()  # a refusal keeps nothing of its request but the event
        record(session, "password_change", outcome="failure", user_id=user_id, client=client)
        session.commit()
        raise InvalidCredentials("Current password is incorrect.")
    check_password(
        new_password, username=user.username, email=user.email, field="new_password", min_score=min_score
    )
    user.password_hash = hasher.hash(new_password)
    sessions.revoke_all(session=session, codec=codec, user_id=user_id)
    new_credentials(session, user)
    onetime.void(session, user_id=user_id, purposes=tuple(Purpose))
    if mailer is not None and user.email is not None:
        mailer.queue(session, Kind.PASSWORD_CHANGED, to=user.email, username=user.username)
    pair = sessions.start(session=session, codec=codec, user=user, client=client, level=level)
    record(
        session,
        "password_change",
        outcome="success",
        user_id=user_id,
        session_id=pair.session_id,
        client=client,
    )
    session.commit()
    return pair


def new_credentials(session: Session, user: User) -> None:
    """Bump the credentials version in the database (atomically, not read-modify-write), which ends
    every session minted under the old one, also a sign-in's still in flight. Call it after
    revoking the live sessions (which lists them by the current version). The new value is read
    back within this transaction, holding the row's lock."""
    user.credentials_version = User.credentials_version + 1
    session.add(user)
    session.flush()
    session.refresh(user, ["credentials_version"])


OPERATOR = "operator"  # the audit lines' actor for changes made from the command line, not by a user


def set_password(
    *,
    session: Session,
    hasher: PasswordHasher,
    codec: TokenCodec,
    user_id: int,
    new_password: str,
    client: ClientInfo = NO_CLIENT,
) -> int:
    """An operator's reset (``flask set-password``) for a user who cannot sign in: no current
    password is asked, and every session of the user ends, including a sign-in racing the reset (the
    credentials version moves, as in ``change_password``). The caller has judged the password.

    Returns how many live sessions were revoked.
    """
    user = get_user(session, user_id)
    user.password_hash = hasher.hash(new_password)
    ended = sessions.revoke_all(session=session, codec=codec, user_id=user_id)
    new_credentials(session, user)
    onetime.void(session, user_id=user_id, purposes=tuple(Purpose))
    record(session, "password_reset", outcome="success", user_id=user_id, client=client, actor=OPERATOR)
    session.commit()
    return ended


def update_user(
    *,
    session: Session,
    codec: TokenCodec,
    user_id: int,
    role: Role | None = None,
    is_active: bool | None = None,
    email: str | None = None,
    email_verified: bool | None = None,
    actor_id: int | None = None,
    client: ClientInfo = NO_CLIENT,
) -> User:
    """Apply an admin's change; deactivation ends every session of the user at once. A new email is
    unverified unless ``email_verified`` says so (the admin vouches for it).

    Each change is its own event, committed with the change.
    """
    lock_for_write(session)  # the last-admin check and the write are one serialised unit
    user = get_user(session, user_id)
    removes_admin = user.role == Role.ADMIN and user.is_active and (role == Role.USER or is_active is False)
    if removes_admin:
        _ensure_another_admin(session, user_id)
    events: list[tuple[str, str]] = []
    if email is not None and email != user.email:
        ensure_email_free(session, email)
        user.email = email
        user.email_verified = False
    if email_verified is not None:
        user.email_verified = email_verified
    if role is not None and role != user.role:
        events.append(("role_change", role.value))
        user.role = role.value
    deactivating = is_active is False and user.is_active
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        events.append(("activation" if is_active else "deactivation", "success"))
    session.add(user)
    try:
        if deactivating:
            sessions.revoke_all(session=session, codec=codec, user_id=user_id)
            new_credentials(session, user)
            onetime.void(session, user_id=user_id, purposes=tuple(Purpose))
        for event, outcome in events:
            record(session, event, outcome=outcome, user_id=user_id, client=client, actor_id=actor_id)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise EmailTaken() from None
    return user


def delete_user(
    *,
    session: Session,
    codec: TokenCodec,
    hasher: PasswordHasher,
    actor: UserView,
    user_id: int,
    current_password: str | None = None,
    client: ClientInfo = NO_CLIENT,
) -> None:
    """Delete an account (an admin may delete anyone, a user only themselves) and its sessions;
    its tokens fail everywhere at once. Someone else's account is ``NotFound`` to a non-admin.

    Deleting one's own account needs ``current_password`` (``InvalidCredentials`` otherwise).
    """
    user = get_user_for(session=session, viewer=actor, user_id=user_id)
    # Checked before the write lock is taken: bcrypt must not hold SQLite's one writer for its duration.
    if user.id == actor.id and not hasher.verify(current_password or "", user.password_hash):
        session.rollback()  # a refusal keeps nothing of its request but the event
        record(session, "deletion", outcome="failure", user_id=user_id, client=client, actor_id=actor.id)
        session.commit()
        raise InvalidCredentials("Current password is incorrect.")
    _remove_account(session, codec=codec, user=user)
    record(session, "deletion", outcome="success", user_id=user_id, client=client, actor_id=actor.id)
    session.commit()


def delete_user_by_operator(
    *, session: Session, codec: TokenCodec, user_id: int, client: ClientInfo = NO_CLIENT
) -> None:
    """Delete an account from the command line (``flask delete-user``) and end its sessions.

    An operator is no user of the service, so this is not ``delete_user`` with a missing actor: the
    API's rules about who may delete whom (and a user's own password) never meet a ``None``. The
    last active admin is protected here as well.
    """
    _remove_account(session, codec=codec, user=get_user(session, user_id))
    record(session, "deletion", outcome="success", user_id=user_id, client=client, actor=OPERATOR)
    session.commit()


def _remove_account(session: Session, *, codec: TokenCodec, user: User) -> None:
    """Delete a user and end their sessions, never the last active admin; the caller commits.

    The last-admin check and the delete are one serialised unit (``lock_for_write``). Blocklisting
    the sessions as well as deleting the user means a reused id could never revive them.
    """
    assert user.id is not None
    lock_for_write(session)
    if user.role == Role.ADMIN and user.is_active:
        _ensure_another_admin(session, user.id)
    sessions.revoke_all(session=session, codec=codec, user_id=user.id)
    session.delete(user)


def _ensure_another_admin(session: Session, user_id: int) -> None:
    """Refuse to remove the last active admin, so the service can never lock itself out.

    Every active admin's row, this one's included, is locked in id order (FOR UPDATE on
    PostgreSQL): two admins removing each other queue on the same rows instead of deadlocking, and
    the second re-reads them after the first commits. SQLite is serialised by ``lock_for_write``.
    """
    admins = (
        select(User.id)
        .where(User.role == Role.ADMIN.value, col(User.is_active).is_(True))
        .order_by(col(User.id))
        .with_for_update()
    )
    if not set(session.exec(admins).all()) - {user_id}:
        raise LastAdmin()
