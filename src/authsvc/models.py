"""SQLModel tables. Nothing here knows about tokens or requests: the services do."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back an aware datetime, also on SQLite, which keeps no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=150)
    # Case-folded username: uniqueness "without regard to case" is enforced by the database itself.
    username_key: str = Field(max_length=600, unique=True, index=True)
    email: str | None = Field(default=None, max_length=320, unique=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=Role.USER.value, max_length=16)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BlockKind(StrEnum):
    SESSION = "session"  # a revoked session: every token carrying this sid is dead
    REFRESH = "refresh"  # a spent (rotated) or revoked refresh token
    ACCESS = "access"  # a revoked access token


class TokenBlocklist(SQLModel, table=True):
    """Revoked sessions and spent or revoked tokens, keyed by the id a token carries.

    A token is checked with one primary-key lookup: ``jti IN (token.jti, token.sid)``.
    """

    __tablename__ = "token_blocklist"

    jti: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)
    user_id: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # After this instant no token this row can match is still valid, so the row may be pruned.
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
