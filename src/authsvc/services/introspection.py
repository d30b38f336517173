"""Token introspection (RFC 7662): whether a token is live right now, for other services.

A token is live exactly when authsvc itself would honour it: an access token when ``verify_access``
accepts it (whoami would answer 200), a refresh token when ``refresh`` would rotate it. Nothing is
spent or written: asking about a refresh token never uses it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, func
from sqlalchemy import select as core_select

from authsvc.db import read_connection
from authsvc.exceptions import TokenInvalid
from authsvc.models import AuthSession, TokenBlocklist, User
from authsvc.schemas import is_text
from authsvc.security import CREDENTIALS_CLAIM, MAX_TOKEN_LENGTH, TokenCodec, TokenType
from authsvc.services import auth

# RFC 7662 section 2.1 names the RFC 7009 hints; the short forms are what our tokens' "type" says.
HINTS: dict[str, TokenType] = {
    "access_token": "access",
    "refresh_token": "refresh",
    "access": "access",
    "refresh": "refresh",
}


@dataclass(frozen=True, slots=True)
class LiveToken:
    """What an introspection answer says about a live token (section 5's fields)."""

    token_type: TokenType
    username: str
    role: str
    claims: dict[str, Any]

    def answer(self) -> dict[str, Any]:
        """The RFC 7662 body, in section 5's key order."""
        claims = self.claims
        return {
            "active": True,
            "token_type": self.token_type,
            "sub": claims["sub"],
            "username": self.username,
            "role": self.role,
            "sid": claims["sid"],
            "jti": claims["jti"],
            "iat": claims["iat"],
            "exp": claims["exp"],
            "iss": claims["iss"],
            "aud": claims["aud"],
        }


def introspect(*, engine: Engine, codec: TokenCodec, token: str, hint: str | None = None) -> LiveToken | None:
    """The live token's facts, or ``None`` for any token that is not live, whatever the reason.

    The hint only chooses which type is tried first (RFC 7662 section 2.1: a wrong hint must
    still find the token). Reads only; the caller has nothing to commit.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH or not is_text(token):
        return None
    first: TokenType = HINTS.get(hint or "", "access")
    for token_type in (first, "refresh" if first == "access" else "access"):
        try:
            if token_type == "access":
                identity = auth.verify_access(engine=engine, codec=codec, token=token)
                return LiveToken("access", identity.user.username, identity.user.role, identity.claims)
            return _live_refresh(engine, codec=codec, token=token)
        except TokenInvalid:
            continue
    return None


def _live_refresh(engine: Engine, *, codec: TokenCodec, token: str) -> LiveToken:
    """A refresh token that ``auth.refresh`` would rotate now, checked without spending it.

    The same checks, in one statement: its session exists, belongs to its subject and is not
    revoked; the token is that session's current refresh token (a spent one is not); neither its id
    nor its session's is in the blocklist; the user is active under the same credentials version.
    """
    claims = codec.decode(token, expected_type="refresh")
    params = {"sid": claims["sid"], "jti": claims["jti"]}
    with read_connection(engine) as connection:  # reads only: no transaction to open or end
        row = connection.execute(_REFRESH_STATE, params).first()
    if row is None:
        raise TokenInvalid()
    username, role, is_active, version, owner, current_jti, revoked_at, blocked = row
    if (
        blocked
        or revoked_at is not None
        or owner != int(claims["sub"])
        or current_jti != claims["jti"]
        or not is_active
        or version != claims[CREDENTIALS_CLAIM]
    ):
        raise TokenInvalid()
    return LiveToken("refresh", username, role, claims)


# SQLAlchemy sets __table__ on each table class at runtime; SQLModel's types do not declare it.
_users = User.__table__  # type: ignore[attr-defined]
_sessions = AuthSession.__table__  # type: ignore[attr-defined]
_blocklist = TokenBlocklist.__table__  # type: ignore[attr-defined]
_REFRESH_STATE = (
    core_select(
        _users.c.username,
        _users.c.role,
        _users.c.is_active,
        _users.c.credentials_version,
        _sessions.c.user_id,
        _sessions.c.refresh_jti,
        _sessions.c.revoked_at,
        core_select(func.count())
        .select_from(_blocklist)
        .where(_blocklist.c.jti.in_([bindparam("jti"), bindparam("sid")]))
        .scalar_subquery(),
    )
    .select_from(_sessions.join(_users, _users.c.id == _sessions.c.user_id))
    .where(_sessions.c.id == bindparam("sid"))
)
