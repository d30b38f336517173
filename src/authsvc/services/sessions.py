"""Sessions: start one on sign-in, list the live ones, revoke one, some or all."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from authsvc.audit import ClientInfo
from authsvc.domain import PASSWORD, Level
from authsvc.exceptions import InvalidCredentials
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
    credentials_version: int,
    access_jti: str | None = None,
    refresh_jti: str | None = None,
    level: Level = PASSWORD,
) -> TokenPair:
    """Encode an access and a refresh token; the same ids, instant and level give the same strings."""
    return TokenPair(
        access=codec.encode(
            subject=str(user_id),
            token_type="access",
            session_id=session_id,
            now=now,
            jti=access_jti,
            credentials_version=credentials_version,
            level=level,
        ),
        refresh=codec.encode(
            subject=str(user_id),
            token_type="refresh",
            session_id=session_id,
            now=now,
            jti=refresh_jti,
            credentials_version=credentials_version,
            level=level,
        ),
        session_id=session_id,
    )


def expiry(pair: TokenPair, codec: TokenCodec) -> datetime:
    """When the session is dead: its last token has expired, leeway included."""
    return max(pair.refresh.expires_at, pair.access.expires_at) + timedelta(seconds=codec.leeway)


def start(
    *,
    session: Session,
    codec: TokenCodec,
    user: User,
    client: ClientInfo,
    max_sessions: int | None = None,
    level: Level = PASSWORD,
) -> TokenPair:
    """Open a new session for ``user`` under the credentials it was verified with; the caller commits.

    ``InvalidCredentials`` when those credentials changed meanwhile (a password change, a reset or
    a deactivation committed while bcrypt ran). The session row is written first and the user's
    row is then read under a lock (FOR NO KEY UPDATE on PostgreSQL; on SQLite the insert already
    holds the database's write lock), so the check sees every change committed before ours and
    every change after ours sees this session. Beyond ``max_sessions`` live sessions the oldest
    are revoked, exactly, since sign-ins of one user are serialised by that same lock.
    """
    now = utcnow()
    assert user.id is not None
    version = user.credentials_version
    pair = mint_pair(
        codec=codec,
        user_id=user.id,
        session_id=uuid.uuid4().hex,
        now=now,
        credentials_version=version,
        level=level,
    )
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
            credentials_version=version,
        )
    )
    session.flush()
    current = session.execute(
        select(User.credentials_version, User.is_active)
        .where(User.id == user.id)
        .with_for_update(key_share=True)
    ).first()
    if current is None or tuple(current) != (version, True):
        raise InvalidCredentials()
    if max_sessions is not None:
        _revoke_beyond(session, codec=codec, user_id=user.id, keep=max_sessions, now=now)
    return pair


def _revoke_beyond(session: Session, *, codec: TokenCodec, user_id: int, keep: int, now: datetime) -> None:
    """Revoke the user's oldest live sessions past the newest ``keep``."""
    statement = select(AuthSession.id).where(*_live(user_id, now)).order_by(*NEWEST_FIRST).offset(keep)
    if surplus := list(session.exec(statement).all()):
        revoke(session=session, codec=codec, session_ids=surplus, user_id=user_id, now=now)


NEWEST_FIRST = (col(AuthSession.created_at).desc(), col(AuthSession.id))


def _live(user_id: int, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """What makes a session of this user live: neither revoked nor expired, and minted under the
    user's current credentials version (an older one is dead even when nothing revoked it)."""
    version = select(User.credentials_version).where(User.id == user_id).scalar_subquery()
    return (
        col(AuthSession.user_id) == user_id,
        col(AuthSession.revoked_at).is_(None),
        col(AuthSession.expires_at) > now,
        col(AuthSession.credentials_version) == version,
    )


def live_sessions(*, session: Session, user_id: int, now: datetime | None = None) -> Sequence[AuthSession]:
    """The user's sessions that can still be refreshed, newest first."""
    statement = select(AuthSession).where(*_live(user_id, now or utcnow())).order_by(*NEWEST_FIRST)
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
