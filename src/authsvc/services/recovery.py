"""Account recovery: a reset link mailed to the stored address, and the reset it allows."""

from __future__ import annotations

from sqlmodel import Session

from authsvc.audit import NO_CLIENT, ClientInfo, record
from authsvc.exceptions import InvalidLink
from authsvc.messages import Kind
from authsvc.models import Purpose, User, utcnow
from authsvc.security import PasswordHasher, TokenCodec
from authsvc.services import onetime, sessions
from authsvc.services.accounts import new_credentials
from authsvc.services.outbox import Mailer
from authsvc.services.passwords import DEFAULT_MIN_SCORE, check_password
from authsvc.services.users import find_by_email


def forgot_password(
    *,
    session: Session,
    mailer: Mailer,
    email: str,
    lifetime: int,
    allowed: bool,
    client: ClientInfo = NO_CLIENT,
) -> None:
    """Mail a reset link if ``email`` is an active account's address and its budget (``allowed``)
    is not spent; otherwise do nothing. The caller answers the same either way (see the route)."""
    user = find_by_email(session, email)
    if user is None or not user.is_active or not allowed or user.email is None:
        # Read before the rollback, which expires the user: touching it after would mean another
        # SELECT, and a transaction left for the teardown to end after the answer's floor.
        outcome = "no_account" if user is None or not user.is_active else "throttled"
        user_id = user.id if user else None
        session.rollback()
        record(session, "password_forgot", outcome=outcome, user_id=user_id, client=client)
        session.commit()
        return
    onetime.mail_link(
        session,
        mailer=mailer,
        kind=Kind.RESET,
        purpose=Purpose.RESET,
        user=user,
        to=user.email,
        lifetime=lifetime,
    )
    record(session, "password_forgot", outcome="sent", user_id=user.id, client=client)
    session.commit()


def reset_password(
    *,
    session: Session,
    hasher: PasswordHasher,
    codec: TokenCodec,
    mailer: Mailer,
    token: str,
    new_password: str,
    min_score: int = DEFAULT_MIN_SCORE,
    client: ClientInfo = NO_CLIENT,
) -> None:
    """Set a new password with a reset link's token: every session of the user ends, the token and
    any other reset link stop working, and the address counts as verified (the link reached it).

    A password the policy refuses leaves the token usable; a token two requests race with works once.
    """
    now = utcnow()
    row = onetime.find(session, token, purpose=Purpose.RESET, now=now)
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or user.email != row.email:
        raise InvalidLink()
    check_password(
        new_password, username=user.username, email=user.email, field="new_password", min_score=min_score
    )
    password_hash = hasher.hash(new_password)  # before any write: bcrypt never holds SQLite's writer
    onetime.spend(session, row, now=now)
    user.password_hash = password_hash
    user.email_verified = True
    sessions.revoke_all(session=session, codec=codec, user_id=row.user_id)
    new_credentials(session, user)
    onetime.void(session, user_id=row.user_id, purposes=tuple(Purpose))  # every other link, too
    mailer.queue(session, Kind.PASSWORD_CHANGED, to=row.email, username=user.username)
    record(session, "password_reset", outcome="success", user_id=user.id, client=client, actor="reset_link")
    session.commit()
