"""Sessions: start one on sign-in, list the live ones, revoke one, some or all."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from authsvc.audit import ClientInfo
from authsvc.models import AuthSession, BlockKind, User, utcnow
from authsvc.security import IssuedToken, TokenCodec
from authsvc.services import blocklist

USER_AGENT_MAX = 512


@dataclass(frozen=True, slots=True)
class TokenPair:
    access: IssuedToken
    refresh: IssuedToken
    session_id: str


def mint_pair(
    *,
    codec: TokenCodec,
    user_id: int,
    session_id: str,
    now: datetime,
    access_jti: str | None = None,
    refresh_jti: str | None = None,
) -> TokenPair:
    """Encode an access and a refresh token; the same ids and instant give the same strings."""
    subject = str(user_id)
    return TokenPair(
        access=codec.encode(
            subject=subject, token_type="access", session_id=session_id, now=now, jti=access_jti
        ),
        refresh=codec.encode(
            subject=subject, token_type="refresh", session_id=session_id, now=now, jti=refresh_jti
        ),
        session_id=session_id,
    )


def expiry(pair: TokenPair, codec: TokenCodec) -> datetime:
    """When the session is dead: its last token has expired, leeway included."""
    return max(pair.refresh.expires_at, pair.access.expires_at) + timedelta(seconds=codec.leeway)


def start(*, session: Session, codec: TokenCodec, user: User, client: ClientInfo) -> TokenPair:
    """Open a new session for ``user`` and mint its first pair (committed together)."""
    now = utcnow()
    assert user.id is not None
    pair = mint_pair(codec=codec, user_id=user.id, session_id=uuid.uuid4().hex, now=now)
    session.add(
        AuthSession(
            id=pair.session_id,
            user_id=user.id,
            created_at=now,
            last_used_at=now,
            user_agent=(client.user_agent or None) and client.user_agent[:USER_AGENT_MAX],
            ip=client.ip,
            refresh_jti=pair.refresh.jti,
            access_jti=pair.access.jti,
            rotated_at=now,
            expires_at=expiry(pair, codec),
        )
    )
    session.commit()
    return pair


def live_sessions(*, session: Session, user_id: int, now: datetime | None = None) -> Sequence[AuthSession]:
    """The user's sessions that can still be refreshed, newest first."""
    now = now or utcnow()
    statement = (
        select(AuthSession)
        .where(AuthSession.user_id == user_id)
        .where(col(AuthSession.revoked_at).is_(None))
        .where(col(AuthSession.expires_at) > now)
        .order_by(col(AuthSession.created_at).desc(), col(AuthSession.id))
    )
    return session.exec(statement).all()


def revoke(
    *, session: Session, codec: TokenCodec, session_ids: Sequence[str], user_id: int | None, now: datetime
) -> int:
    """Revoke sessions: every token carrying one of these ids stops working once committed.

    The caller commits, so a revocation lands together with the change that caused it.
    """
    # A session's tokens were all minted by now, so none outlives the longest lifetime from now.
    longest = max(codec.refresh_lifetime, codec.access_lifetime) + timedelta(seconds=codec.leeway)
    for sid in session_ids:
        blocklist.block(session, jti=sid, kind=BlockKind.SESSION, user_id=user_id, expires_at=now + longest)
        row = session.get(AuthSession, sid)
        if row is not None and row.revoked_at is None:
            row.revoked_at = now
            session.add(row)
    session.flush()
    return len(session_ids)


def revoke_all(
    *, session: Session, codec: TokenCodec, user_id: int, keep: str | None = None, now: datetime | None = None
) -> int:
    """Revoke every live session of a user except ``keep``; returns how many."""
    now = now or utcnow()
    ids = [row.id for row in live_sessions(session=session, user_id=user_id, now=now) if row.id != keep]
    return revoke(session=session, codec=codec, session_ids=ids, user_id=user_id, now=now)
