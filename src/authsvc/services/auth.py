"""Sign-in and the token lifecycle: issue, verify, rotate, revoke."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from authsvc.exceptions import InvalidCredentials, TokenInvalid
from authsvc.models import BlockKind, TokenBlocklist, User, utcnow
from authsvc.schemas import USERNAME_MAX
from authsvc.security import IssuedToken, PasswordHasher, TokenCodec, expiry_of
from authsvc.services import blocklist
from authsvc.services.users import find_by_username


@dataclass(frozen=True, slots=True)
class TokenPair:
    access: IssuedToken
    refresh: IssuedToken
    session_id: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid access token speaks for, and the token's claims."""

    user: User
    claims: dict[str, Any]

    @property
    def session_id(self) -> str:
        return self.claims["sid"]


def authenticate(*, session: Session, hasher: PasswordHasher, username: str, password: str) -> User:
    """The active user these credentials belong to, or ``InvalidCredentials``.

    Unknown, deactivated and wrong-password all cost one hash verify and fail alike.
    """
    user = find_by_username(session, username) if len(username) <= USERNAME_MAX else None
    password_ok = hasher.verify(password, user.password_hash if user else None)
    if user is None or not password_ok or not user.is_active:
        raise InvalidCredentials()
    if hasher.needs_update(user.password_hash):
        user.password_hash = hasher.hash(password)
        session.add(user)
        session.commit()
    return user


def issue_pair(
    *, codec: TokenCodec, user: User, session_id: str | None = None, now: datetime | None = None
) -> TokenPair:
    """Mint an access and a refresh token sharing one session id (a new session unless given)."""
    now = now or utcnow()
    sid = session_id or uuid.uuid4().hex
    subject = str(user.id)
    return TokenPair(
        access=codec.encode(subject=subject, token_type="access", session_id=sid, now=now),
        refresh=codec.encode(subject=subject, token_type="refresh", session_id=sid, now=now),
        session_id=sid,
    )


def sign_in(
    *, session: Session, hasher: PasswordHasher, codec: TokenCodec, username: str, password: str
) -> TokenPair:
    """Check credentials and start a new session."""
    user = authenticate(session=session, hasher=hasher, username=username, password=password)
    return issue_pair(codec=codec, user=user)


def verify_access(*, session: Session, codec: TokenCodec, token: str) -> Identity:
    """The identity behind a live access token, in one round trip to the database.

    The token's ``jti`` and ``sid`` are looked up in the blocklist's primary key in the same
    statement that loads the user, so revocation, deletion and deactivation all apply at once.
    """
    claims = codec.decode(token, expected_type="access")
    revoked = (
        select(func.count())
        .select_from(TokenBlocklist)
        .where(col(TokenBlocklist.jti).in_([claims["jti"], claims["sid"]]))
        .scalar_subquery()
    )
    row = session.exec(select(User, revoked).where(User.id == int(claims["sub"]))).first()
    if row is None:
        raise TokenInvalid()
    user, revoked_count = row
    if revoked_count or not user.is_active:
        raise TokenInvalid()
    return Identity(user=user, claims=claims)


def refresh(*, session: Session, codec: TokenCodec, token: str, now: datetime | None = None) -> TokenPair:
    """Rotate a refresh token: spend it and mint a new pair in the same session.

    A refresh token seen again after it was spent was copied: the whole session is revoked.
    """
    now = now or utcnow()
    claims = codec.decode(token, expected_type="refresh")
    jti, sid, user_id = claims["jti"], claims["sid"], int(claims["sub"])
    blocked = blocklist.blocked_ids(session, [jti, sid])
    if sid in blocked:
        raise TokenInvalid()
    if jti in blocked:
        _revoke_session(session, codec=codec, session_id=sid, user_id=user_id, now=now)
        raise TokenInvalid()
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise TokenInvalid()
    spent = blocklist.block(
        session,
        jti=jti,
        kind=BlockKind.REFRESH,
        user_id=user_id,
        expires_at=expiry_of(claims) + timedelta(seconds=codec.leeway),
    )
    if not spent:  # another request spent it a moment ago: the same reuse, seen concurrently
        session.rollback()
        _revoke_session(session, codec=codec, session_id=sid, user_id=user_id, now=now)
        raise TokenInvalid()
    pair = issue_pair(codec=codec, user=user, session_id=sid, now=now)
    session.commit()
    return pair


def logout(*, session: Session, codec: TokenCodec, identity: Identity, now: datetime | None = None) -> int:
    """Revoke the caller's session: its access and refresh tokens stop working at once."""
    _revoke_session(
        session, codec=codec, session_id=identity.session_id, user_id=identity.user.id, now=now or utcnow()
    )
    return 1


def _revoke_session(
    session: Session, *, codec: TokenCodec, session_id: str, user_id: int | None, now: datetime
) -> None:
    # No token of the session outlives the longest lifetime from now (plus leeway); then the row can go.
    longest = max(codec.refresh_lifetime, codec.access_lifetime)
    expires_at = now + longest + timedelta(seconds=codec.leeway)
    blocklist.block(session, jti=session_id, kind=BlockKind.SESSION, user_id=user_id, expires_at=expires_at)
    session.commit()
