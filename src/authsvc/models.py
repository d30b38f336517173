"""SQLModel tables. Nothing here knows about tokens or requests: the services do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, Text, TypeDecorator, false, true
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
    # AUTOINCREMENT on SQLite too: a deleted user's id is never handed to a new account.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=150)
    # Case-folded username: uniqueness "without regard to case" is enforced by the database itself.
    username_key: str = Field(max_length=600, unique=True, index=True)
    email: str | None = Field(default=None, max_length=320, unique=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=Role.USER.value, max_length=16)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Bumped by every change that must end existing sign-ins (password change or reset,
    # deactivation). Sessions and tokens carry the version they were minted under; an older one is
    # dead everywhere, so a sign-in that verified the old password while the change committed
    # cannot leave a live session behind, whatever order the two transactions ran in.
    credentials_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Proven to reach its owner (a verification, reset or email-change link was followed). Users made
    # by an operator or an admin, and those from before email existed, count as verified.
    email_verified: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    # A confirmed second factor is on (``TotpFactor``): sign-in then asks for a code. Kept here, not
    # derived, so that user records and the token check read it with the user's row.
    mfa_enabled: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


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


class AuthSession(SQLModel, table=True):
    """One sign-in and its refreshes: what ``GET /api/auth/sessions`` lists.

    Revocation is not read from here (the blocklist answers that in one lookup); this row keeps what
    a person wants to see and what rotation needs: the current pair's ids, so that within the reuse
    interval a second tab presenting the just-spent refresh token gets the very same pair back.
    """

    __tablename__ = "auth_session"

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    user_agent: str | None = Field(default=None, max_length=512)
    ip: str | None = Field(default=None, max_length=64)
    # The live pair: its refresh and access ids and when it was minted (all tokens' iat).
    refresh_jti: str = Field(max_length=64)
    access_jti: str = Field(max_length=64)
    rotated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The refresh token the live pair replaced, for the reuse grace interval.
    previous_refresh_jti: str | None = Field(default=None, max_length=64)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The user's credentials version when the session began (see ``User.credentials_version``).
    credentials_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class UserCounter(SQLModel, table=True):
    """The number of users, kept by database triggers (migration 0003) on every insert and delete.

    Counting 100,000 rows on each admin page view would make the page slower as the table grows;
    one row read keeps it flat, and triggers keep it exact whoever writes the table.
    """

    __tablename__ = "user_counter"

    id: int = Field(default=1, primary_key=True)
    total: int = Field(default=0)


class SigningKey(SQLModel, table=True):
    """An asymmetric key pair (``FLASK_JWT_ALGORITHM`` EdDSA, ES256 or RS256); see docs/keys.md.

    The private key is stored sealed (AES-GCM under a key derived from ``FLASK_SECRET_KEY``, the kid
    as associated data); the public JWK is stored as published, for listing without opening keys.
    """

    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(max_length=16)
    state: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    public_jwk: str = Field(sa_type=Text)
    private_key: str = Field(sa_type=Text)


class ServiceClient(SQLModel, table=True):
    """Another service allowed to ask ``POST /api/auth/introspect`` about tokens.

    ``client_id`` is public (it names the caller, like a username); the secret is kept only as a
    hash (``security.client_secret_hash``), so a copy of this table lets nobody introspect.
    """

    __tablename__ = "service_client"

    id: int | None = Field(default=None, primary_key=True)
    # The operator's name for the client (``flask clients create NAME``); what list and delete take.
    name: str = Field(max_length=64, unique=True)
    client_id: str = Field(max_length=64, unique=True, index=True)
    secret_hash: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Purpose(StrEnum):
    """What a one-time token may be spent on: one purpose each, never another's."""

    RESET = "reset"
    VERIFY = "verify"
    EMAIL_CHANGE = "email_change"


class OneTimeToken(SQLModel, table=True):
    """A mailed link's token, kept only as its SHA-256 (``security.one_time_hash``): a copy of this
    table opens no account. Spent by setting ``used_at`` in a conditional update, so of two requests
    racing with one link exactly one wins; voided tokens (a newer one of the same purpose, a
    password change) are deleted.
    """

    __tablename__ = "one_time_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    purpose: str = Field(max_length=16)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    # The address the link was sent to: a verify or reset token is void once the user's address
    # differs; an email change's is the new address it confirms.
    email: str = Field(max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxMessage(SQLModel, table=True):
    """A message waiting to be sent, written in the same transaction as the change it tells of.

    The whole message (its links carry live tokens) is sealed under a key derived from
    FLASK_SECRET_KEY with the row's id as associated data; the row is deleted once the SMTP server
    has accepted it. A sender claims a row (``claimed_until``) before sending it, so two processes
    never send one row at once; a claim that outlives a crashed sender simply expires.
    """

    __tablename__ = "outbox"

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=32)  # the template: what the logs name, never the contents
    recipient: str = Field(max_length=320)
    sealed: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    attempts: int = Field(default=0)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=200)


class TotpFactor(SQLModel, table=True):
    """A user's TOTP secret (RFC 6238), sealed like the signing keys (``sealing.Sealer``, the user id
    as associated data). Pending until a first code confirms it.

    ``last_step`` is the newest time step a code was accepted for: a code of it or any earlier step
    is refused, so a code works once, and of two requests racing with one code exactly one wins
    (a conditional update).
    """

    __tablename__ = "mfa_totp"

    user_id: int = Field(primary_key=True, foreign_key="user.id", ondelete="CASCADE")
    secret: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_step: int = Field(default=0, sa_type=BigInteger)


class RecoveryCode(SQLModel, table=True):
    """One of a user's ten single-use recovery codes, kept only as an HMAC under a key derived from
    FLASK_SECRET_KEY: a code has 50 random bits, too few to leave to a plain hash in a stolen table."""

    __tablename__ = "mfa_recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MfaChallenge(SQLModel, table=True):
    """A sign-in whose password was right, waiting for its second factor: what an ``mfa_token``
    names (kept as its SHA-256). Spent by the code that completes it, or voided after five wrong ones."""

    __tablename__ = "mfa_challenge"

    id: str = Field(primary_key=True, max_length=64)  # the mfa_token's SHA-256
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    failures: int = Field(default=0)
    cookie: bool = Field(default=False)  # the login asked for cookie mode
    credentials_version: int = Field(default=0)
    spent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """One security event, written in the transaction of the change it records (``audit.record``), so
    a change that rolls back leaves no row claiming it happened. Ids, the client's address and the
    outcome only: never a password, hash or token. No foreign key to ``user``: the trail of a deleted
    account outlives it, until ``flask prune-tokens`` drops rows past the retention period.
    """

    __tablename__ = "audit_event"
    # The listing is newest first, optionally for one user or a time range, and pruning goes by time:
    # on PostgreSQL each walks an index. SQLite has neither index: its one writer holds the write lock
    # through every synced commit, and each index added a page to every audited commit (two thirds of
    # the row's cost to a refresh); its filtered listings scan instead (docs/benchmarks.md).
    __table_args__ = (
        Index("ix_audit_event_time", "time").ddl_if(dialect="postgresql"),
        Index("ix_audit_event_user_id_time", "user_id", "time").ddl_if(dialect="postgresql"),
    )

    # 64-bit where it can grow for years; SQLite's rowid alias must be INTEGER to autoincrement.
    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    time: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    event: str = Field(max_length=32)
    outcome: str = Field(max_length=32)
    user_id: int | None = Field(default=None)
    session_id: str | None = Field(default=None, max_length=64)
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=512)
    request_id: str | None = Field(default=None, max_length=64)
    details: dict[str, str | int | None] = Field(default_factory=dict, sa_type=JSON)


def on_dialect(dialect: str) -> Callable[[object, str | None, str, bool, object], bool]:
    """Alembic's ``include_object`` when comparing these models with a ``dialect`` database: an index
    the models create on another database only (``ddl_if``, which autogenerate does not read) is not
    expected there."""

    def include(obj: object, _name: str | None, type_: str, reflected: bool, _compare_to: object) -> bool:
        condition = getattr(obj, "_ddl_if", None)  # where SQLAlchemy keeps what ddl_if was given
        return type_ != "index" or reflected or condition is None or condition.dialect in (None, dialect)

    return include
