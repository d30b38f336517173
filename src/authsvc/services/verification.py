"""Proving an address: verification links, and changing the address through a link sent to the new one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from authsvc.audit import NO_CLIENT, ClientInfo, record
from authsvc.domain import needs_step_up
from authsvc.exceptions import Aal2Required, EmailTaken, InvalidCredentials, InvalidInput, InvalidLink
from authsvc.messages import Kind
from authsvc.models import Purpose, User, utcnow
from authsvc.security import PasswordHasher
from authsvc.services import onetime
from authsvc.services.outbox import Mailer
from authsvc.services.users import ensure_email_free, find_by_email, get_user


def queue_verification(session: Session, *, mailer: Mailer, user: User, lifetime: int) -> None:
    """Add a verification link for the user's current address to the caller's transaction."""
    assert user.email is not None
    onetime.mail_link(
        session,
        mailer=mailer,
        kind=Kind.VERIFY,
        purpose=Purpose.VERIFY,
        user=user,
        to=user.email,
        lifetime=lifetime,
        email=user.email,
    )


@dataclass(frozen=True, slots=True)
class VerificationLinks:
    """``users.Verification`` for registration: queues a new user's link with this mailer."""

    mailer: Mailer
    lifetime: int

    def queue(self, session: Session, user: User) -> None:
        queue_verification(session, mailer=self.mailer, user=user, lifetime=self.lifetime)


def resend_verification(
    *,
    session: Session,
    mailer: Mailer,
    lifetime: int,
    allowed: bool,
    user_id: int | None = None,
    email: str | None = None,
    client: ClientInfo = NO_CLIENT,
) -> None:
    """A new verification link for a signed-in user (``user_id``) or an address (``email``), when the
    address is unverified and its budget not spent; otherwise nothing. The answer is the same."""
    user = session.get(User, user_id) if user_id is not None else find_by_email(session, email or "")
    if user is None or user.email is None or user.email_verified or not user.is_active or not allowed:
        session.rollback()
        return
    queue_verification(session, mailer=mailer, user=user, lifetime=lifetime)
    record(session, "verification_sent", outcome="success", user_id=user.id, client=client)
    session.commit()


def verify_email(*, session: Session, token: str, client: ClientInfo = NO_CLIENT) -> User:
    """Mark the address verified with a verification link's token. The token is void once the user's
    address differs from the one it was sent to."""
    now = utcnow()
    row = onetime.find(session, token, purpose=Purpose.VERIFY, now=now)
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or user.email != row.email:
        raise InvalidLink()
    onetime.spend(session, row, now=now)
    user.email_verified = True
    record(session, "email_verified", outcome="success", user_id=user.id, client=client)
    session.commit()
    return user


def request_email_change(
    *,
    session: Session,
    hasher: PasswordHasher,
    mailer: Mailer,
    user_id: int,
    new_email: str,
    current_password: str,
    lifetime: int,
    aal: int = 1,
    allowed: bool = True,
    client: ClientInfo = NO_CLIENT,
) -> None:
    """Mail a confirmation link to ``new_email`` and a notice to the current address; the address
    changes only when the link is followed (``confirm_email_change``). A user with a second factor
    asks from a session signed in with it (``aal`` 2). With the new address's budget spent
    (``allowed`` false) nothing is sent, and the caller answers the same."""
    user = get_user(session, user_id)
    if needs_step_up(mfa_enabled=user.mfa_enabled, aal=aal):
        raise Aal2Required()
    if not hasher.verify(current_password, user.password_hash):
        session.rollback()  # a refusal keeps nothing of its request but the event
        record(session, "email_change", outcome="failure", user_id=user_id, client=client)
        session.commit()
        raise InvalidCredentials("Current password is incorrect.")
    if new_email == user.email:
        raise InvalidInput("The new address is the current one.", field="new_email")
    ensure_email_free(session, new_email)
    if not allowed:
        session.rollback()
        record(session, "email_change", outcome="throttled", user_id=user_id, client=client)
        session.commit()
        return
    onetime.mail_link(
        session,
        mailer=mailer,
        kind=Kind.EMAIL_CHANGE,
        purpose=Purpose.EMAIL_CHANGE,
        user=user,
        to=new_email,
        lifetime=lifetime,
        email=new_email,
    )
    if user.email is not None:
        mailer.queue(
            session, Kind.EMAIL_CHANGE_NOTICE, to=user.email, username=user.username, new_email=new_email
        )
    record(session, "email_change", outcome="requested", user_id=user_id, client=client)
    session.commit()


def confirm_email_change(*, session: Session, token: str, client: ClientInfo = NO_CLIENT) -> User:
    """Move the account to the address the link was sent to, verified. Outstanding reset and
    verification links (sent to the old address) stop working; ``EmailTaken`` if someone registered
    the address meanwhile, and then the link is left unspent."""
    now = utcnow()
    row = onetime.find(session, token, purpose=Purpose.EMAIL_CHANGE, now=now)
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise InvalidLink()
    # Free but for this very user: of requests racing with one link, the losers find the address
    # already theirs (the winner's commit) and are told the link is spent, not that it is taken.
    ensure_email_free(session, row.email, but=user.id)
    onetime.spend(session, row, now=now)
    onetime.void(session, user_id=row.user_id, purposes=(Purpose.RESET, Purpose.VERIFY))
    user.email = row.email
    user.email_verified = True
    try:  # the unique index decides a race with a registration of the same address
        session.flush()
        record(session, "email_change", outcome="success", user_id=user.id, client=client)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise EmailTaken() from None
    return user
