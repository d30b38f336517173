"""One-time link tokens: issued, looked up and spent inside the caller's transaction (helpers:
nothing here commits).

Only a token's SHA-256 is stored. Issuing one deletes the user's older tokens of that purpose, so
only the newest link works; spending is a conditional update that exactly one of several racing
requests wins.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from authsvc.db import lock_for_write
from authsvc.exceptions import InvalidLink
from authsvc.messages import Kind, lifetime_words
from authsvc.models import OneTimeToken, Purpose, User, utcnow
from authsvc.security import ONE_TIME_TOKEN_LENGTH, new_one_time_token, one_time_hash
from authsvc.services.outbox import Mailer


def issue(
    session: Session, *, user_id: int, purpose: Purpose, email: str, lifetime: int, now: datetime
) -> str:
    """A new token for ``purpose``; the user's earlier ones of that purpose stop working.

    The user's row is locked first (``FOR UPDATE``; SQLite's one writer), so two requests issuing at
    once run one after the other and only the later token stays live.
    """
    lock_for_write(session)
    session.exec(select(User.id).where(User.id == user_id).with_for_update()).first()
    void(session, user_id=user_id, purposes=(purpose,))
    token, digest = new_one_time_token()
    session.add(
        OneTimeToken(
            token_hash=digest,
            purpose=purpose.value,
            user_id=user_id,
            email=email,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime),
        )
    )
    return token


def void(session: Session, *, user_id: int, purposes: tuple[Purpose, ...]) -> None:
    session.exec(
        delete(OneTimeToken).where(
            col(OneTimeToken.user_id) == user_id, col(OneTimeToken.purpose).in_([p.value for p in purposes])
        )
    )


def find(session: Session, token: str, *, purpose: Purpose, now: datetime) -> OneTimeToken:
    """The live token of this purpose, or ``InvalidLink``: used, expired, voided (deleted), unknown,
    or another purpose's all look the same."""
    if len(token) != ONE_TIME_TOKEN_LENGTH:
        raise InvalidLink()
    row = session.exec(select(OneTimeToken).where(OneTimeToken.token_hash == one_time_hash(token))).first()
    if row is None or row.purpose != purpose.value or row.used_at is not None or row.expires_at <= now:
        raise InvalidLink()
    return row


def spend(session: Session, row: OneTimeToken, *, now: datetime) -> None:
    """Mark the token used, or ``InvalidLink`` if another request spent it first.

    The update only matches an unused row: on PostgreSQL a second request waits for the first's
    commit and then matches nothing; SQLite has one writer. So a link works exactly once.
    """
    spent = session.exec(
        update(OneTimeToken)
        .where(col(OneTimeToken.id) == row.id, col(OneTimeToken.used_at).is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        raise InvalidLink()


def prune(session: Session, *, now: datetime) -> int:
    """Delete tokens that can no longer be spent (expired, or used); the caller commits."""
    result = session.exec(
        delete(OneTimeToken).where(
            (col(OneTimeToken.expires_at) < now) | (col(OneTimeToken.used_at).is_not(None))
        )
    )
    return int(result.rowcount)


def mail_link(
    session: Session,
    *,
    mailer: Mailer,
    kind: Kind,
    purpose: Purpose,
    user: User,
    to: str,
    lifetime: int,
    **context: str,
) -> None:
    """Issue a token for ``purpose`` and queue the message carrying its link to ``to``, both in the
    caller's transaction."""
    assert user.id is not None
    token = issue(session, user_id=user.id, purpose=purpose, email=to, lifetime=lifetime, now=utcnow())
    words = lifetime_words(lifetime)
    mailer.queue(session, kind, to=to, token=token, username=user.username, lifetime=words, **context)
