"""The typed answers of authsvc's API, as frozen dataclasses.

Each ``from_json`` reads only the fields it names and ignores the rest, so a newer server that adds a
field never breaks an older client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Scope = Literal["local", "global", "others"]


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))  # authsvc writes ISO 8601 UTC ("...Z" parses on 3.11+)


@dataclass(frozen=True, slots=True)
class User:
    """A user record (API.md: id, username, email, role, is_active, created_at)."""

    id: int
    username: str
    email: str | None
    role: str
    is_active: bool
    created_at: datetime

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> User:
        return cls(
            id=int(body["id"]),
            username=str(body["username"]),
            email=body.get("email"),
            role=str(body["role"]),
            is_active=bool(body["is_active"]),
            created_at=_time(body["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class PublicUser:
    """The part of a user record that ``GET /list/`` shows to a non-admin."""

    id: int
    username: str
    created_at: datetime

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PublicUser:
        return cls(id=int(body["id"]), username=str(body["username"]), created_at=_time(body["created_at"]))


@dataclass(frozen=True, slots=True)
class TokenPair:
    """A sign-in, refresh or password change: the new pair (no refresh token in cookie mode)."""

    access_token: str
    refresh_token: str | None
    expires_in: int
    token_type: str = "Bearer"

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TokenPair:
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=body.get("refresh_token"),
            expires_in=int(body["expires_in"]),
            token_type=str(body.get("token_type", "Bearer")),
        )


@dataclass(frozen=True, slots=True)
class CompatPair:
    """``POST /token/`` and ``POST /token/refresh/`` (section 1): ``access`` and ``refresh``."""

    access: str
    refresh: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> CompatPair:
        return cls(access=str(body["access"]), refresh=str(body["refresh"]))


@dataclass(frozen=True, slots=True)
class LogoutResult:
    message: str
    scope: str
    revoked_sessions: int

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LogoutResult:
        return cls(str(body["message"]), str(body["scope"]), int(body["revoked_sessions"]))


@dataclass(frozen=True, slots=True)
class Session:
    """One of the caller's live sessions; ``current`` marks the one that asked."""

    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Session:
        return cls(
            id=str(body["id"]),
            created_at=_time(body["created_at"]),
            last_used_at=_time(body["last_used_at"]),
            user_agent=body.get("user_agent"),
            ip=body.get("ip"),
            current=bool(body["current"]),
        )


@dataclass(frozen=True, slots=True)
class UserPage:
    items: list[User]
    page: int
    per_page: int
    total: int
    pages: int

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> UserPage:
        return cls(
            items=[User.from_json(item) for item in body["items"]],
            page=int(body["page"]),
            per_page=int(body["per_page"]),
            total=int(body["total"]),
            pages=int(body["pages"]),
        )


@dataclass(frozen=True, slots=True)
class Health:
    status: str
    message: str
    timestamp: datetime
    database: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Health:
        return cls(str(body["status"]), str(body["message"]), _time(body["timestamp"]), str(body["database"]))


@dataclass(frozen=True, slots=True)
class Introspection:
    """RFC 7662's answer. Only ``active`` is set for a token that is not live (authsvc never says why)."""

    active: bool
    token_type: str | None = None
    sub: str | None = None
    username: str | None = None
    role: str | None = None
    sid: str | None = None
    jti: str | None = None
    iat: int | None = None
    exp: int | None = None
    iss: str | None = None
    aud: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Introspection:
        if body.get("active") is not True:
            return cls(active=False)
        text = ("token_type", "sub", "username", "role", "sid", "jti", "iss", "aud")
        numbers = ("iat", "exp")
        fields: dict[str, Any] = {name: body.get(name) for name in text}
        fields.update({name: int(body[name]) if body.get(name) is not None else None for name in numbers})
        return cls(active=True, **fields)


@dataclass(frozen=True, slots=True)
class Discovery:
    """``/.well-known/openid-configuration``: where the keys and the introspection endpoint are."""

    issuer: str
    jwks_uri: str
    introspection_endpoint: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Discovery:
        return cls(str(body["issuer"]), str(body["jwks_uri"]), str(body["introspection_endpoint"]))
