"""Token introspection (RFC 7662): whether a token is live right now, for other services.

A token is live exactly when authsvc itself would honour it: an access token when ``verify_access``
accepts it (whoami would answer 200), a refresh token when ``refresh`` would rotate it. Nothing is
spent or written: asking about a refresh token never uses it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from authsvc.db import read_connection
from authsvc.exceptions import TokenInvalid
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
    with read_connection(engine) as connection:  # reads only: no transaction to open or end
        state = auth.refresh_state(connection, claims)
    if (
        state.session_blocked
        or state.token_blocked
        or state.revoked_at is not None
        or state.owner != int(claims["sub"])
        or state.current_refresh_jti != claims["jti"]
        or not state.is_active
        or state.version != claims[CREDENTIALS_CLAIM]
    ):
        raise TokenInvalid()
    assert state.username is not None and state.role is not None  # the user row was found
    return LiveToken("refresh", state.username, state.role, claims)
