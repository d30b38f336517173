"""Sign-in and the token lifecycle: authenticate, verify, rotate, sign out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from hmac import compare_digest
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, literal, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col

from authsvc import rawsql
from authsvc.audit import NO_CLIENT, ClientInfo, record
from authsvc.domain import USERNAME_MAX, Level, level_of
from authsvc.exceptions import (
    EmailNotVerified,
    Forbidden,
    InvalidCredentials,
    MfaRequired,
    NotFound,
    TokenInvalid,
)
from authsvc.models import AuthSession, BlockKind, User, UTCDateTime, utcnow
from authsvc.security import CREDENTIALS_CLAIM, PasswordHasher, TokenCodec, expiry_of
from authsvc.services import blocklist, mfa, sessions
from authsvc.services.queries import USER_COLUMNS, UserView
from authsvc.services.sessions import TokenPair
from authsvc.services.users import find_by_username

Scope = Literal["local", "global", "others"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid access token speaks for, and the token's claims."""

    user: UserView
    claims: dict[str, Any]

    @property
    def session_id(self) -> str:
        sid: str = self.claims["sid"]  # checked to be a string when the token was decoded
        return sid


def authenticate(
    *, session: Session, hasher: PasswordHasher, username: str, password: str, client: ClientInfo = NO_CLIENT
) -> User:
    """The active user these credentials belong to, or ``InvalidCredentials``, whose event is the
    only thing written (and committed).

    Unknown, deactivated and wrong-password all cost one hash verify and fail alike (the same event,
    the same commit), so neither the answer nor its timing tells which usernames exist.
    """
    plausible = len(username) <= USERNAME_MAX and "\0" not in username  # PostgreSQL refuses NUL in text
    user = find_by_username(session, username) if plausible else None
    password_ok = hasher.verify(password, user.password_hash if user else None)
    if user is None or not password_ok or not user.is_active:
        user_id = user.id if user else None  # read before the rollback, which expires the user
        session.rollback()  # a refusal keeps nothing of its request but the event
        record(session, "sign_in", outcome="failure", user_id=user_id, client=client)
        session.commit()
        raise InvalidCredentials()
    return user


def sign_in(
    *,
    session: Session,
    hasher: PasswordHasher,
    codec: TokenCodec,
    username: str,
    password: str,
    max_sessions: int | None = None,
    require_verified: bool = False,
    cookie: bool = False,
    second_factor: bool = True,
    client: ClientInfo = NO_CLIENT,
) -> TokenPair | mfa.MfaPending:
    """Check credentials and start a new session: one transaction, committed once.

    ``InvalidCredentials`` also when the password or the account changed while the hash was being
    checked: the session is only written under the credentials version that was verified.
    ``require_verified`` (FLASK_EMAIL_VERIFICATION=required): ``EmailNotVerified`` for a user whose
    address was never proven, said only once the password was right.

    A user with a second factor gets no session yet: an ``MfaPending`` whose token
    ``mfa.complete_challenge`` takes with a code (``cookie`` is remembered for that answer). Where no
    second step can follow (``second_factor=False``: ``/token/``), ``MfaRequired``.
    """
    user = authenticate(session=session, hasher=hasher, username=username, password=password, client=client)
    if require_verified and not user.email_verified:
        user_id = user.id
        session.rollback()
        record(session, "sign_in", outcome="email_not_verified", user_id=user_id, client=client)
        session.commit()
        raise EmailNotVerified()
    if user.mfa_enabled:
        if not second_factor:
            raise MfaRequired()
        # The user as the password check read it: the challenge carries that credentials version,
        # so a password changed meanwhile voids it (no rollback here, which would re-read the user).
        pending = mfa.start_challenge(session, user=user, cookie=cookie)
        record(session, "sign_in", outcome="mfa_required", user_id=user.id, client=client)
        session.commit()
        return pending
    try:
        pair = sessions.start(
            session=session, codec=codec, user=user, client=client, max_sessions=max_sessions
        )
    except InvalidCredentials:
        user_id = user.id
        session.rollback()
        record(session, "sign_in", outcome="credentials_changed", user_id=user_id, client=client)
        session.commit()
        raise
    # Rehashed only now, under the lock start() took, so it can never overwrite a password changed meanwhile.
    if hasher.needs_update(user.password_hash):
        user.password_hash = hasher.hash(password)
        session.add(user)
    record(session, "sign_in", outcome="success", user_id=user.id, session_id=pair.session_id, client=client)
    session.commit()
    return pair


def verify_access(*, engine: Engine, codec: TokenCodec, token: str) -> Identity:
    """The identity behind a live access token, in one round trip to the database.

    The token's ``jti`` and ``sid`` are looked up in the blocklist's primary key in the same
    statement that loads the user, so revocation, deletion and deactivation all apply at once.
    It runs outside the request's transaction, on the driver's cursor (``rawsql``): on PostgreSQL
    that one statement is the whole exchange, and a request that only reads opens no transaction.
    """
    claims = codec.decode(token, expected_type="access")
    params = {"user_id": int(claims["sub"]), "jti": claims["jti"], "sid": claims["sid"]}
    with rawsql.cursor(engine, _IDENTITY) as execute:
        row = execute(params).fetchone()
    if row is None:
        raise TokenInvalid()
    id_, username, email, role, is_active, created_at, version, revoked, verified, mfa_on = row
    user = UserView(id_, username, email, role, bool(is_active), created_at, bool(verified), bool(mfa_on))
    if revoked or not user.is_active or version != claims[CREDENTIALS_CLAIM]:
        raise TokenInvalid()
    return Identity(user=user, claims=claims)


# Built once: the user's columns, credentials version, and a count of blocklist rows matching the
# token's jti or sid (two primary-key probes), in one statement compiled for each dialect at import.
# SQLAlchemy sets __table__ on each table class at runtime; SQLModel's types do not declare it.
_IDENTITY = rawsql.compile_for_each(
    lambda dialect: core_select(  # Core's select: sqlmodel's is typed for up to four columns
        *USER_COLUMNS[:-1],
        rawsql.utc_text(USER_COLUMNS[-1], dialect),
        User.__table__.c.credentials_version,  # type: ignore[attr-defined]
        blocklist.matches("jti", "sid"),
        User.__table__.c.email_verified,  # type: ignore[attr-defined]
        User.__table__.c.mfa_enabled,  # type: ignore[attr-defined]
    ).where(USER_COLUMNS[0] == bindparam("user_id"))
)


def refresh(
    *,
    session: Session,
    codec: TokenCodec,
    token: str,
    csrf: str | None = None,
    reuse_interval: int = 0,
    client: ClientInfo = NO_CLIENT,
) -> TokenPair:
    """Rotate a refresh token: spend it and mint a new pair in the same session.

    A spent refresh token seen again was copied, so the whole session is revoked; unless it comes
    back within ``reuse_interval`` seconds of its rotation while its child is still the live pair
    (two browser tabs refreshing at once), which gets that same child pair back. A token sent by
    cookie comes with ``csrf``, which must be the value derived from this very token.
    """
    now = utcnow()
    claims = codec.decode(token, expected_type="refresh")
    jti, sid, user_id = claims["jti"], claims["sid"], int(claims["sub"])
    if csrf is not None and not compare_digest(csrf, codec.csrf_for(jti)):
        raise Forbidden("CSRF token does not belong to this refresh token.")
    state = refresh_state(session.connection(), claims)
    if state.session_blocked:
        session.rollback()
        record(session, "refresh", outcome="revoked_session", user_id=user_id, session_id=sid, client=client)
        session.commit()
        raise TokenInvalid()
    if not state.is_active or state.version != claims[CREDENTIALS_CLAIM] or state.owner != user_id:
        raise TokenInvalid()  # a deleted user or session reads as NULL: the outer joins found no row
    if state.token_blocked or not _spend(session, codec=codec, claims=claims):
        row = session.get(AuthSession, sid)
        if row is None:  # pruned or deleted since the read above
            raise TokenInvalid()
        replay = _replayed_pair(
            session,
            codec=codec,
            row=row,
            jti=jti,
            level=level_of(claims),
            reuse_interval=reuse_interval,
            now=now,
        )
        if replay is None:  # a copied token: its whole session ends
            sessions.revoke(session=session, codec=codec, session_ids=[row.id], user_id=row.user_id, now=now)
        event, outcome = ("refresh", "reuse_within_grace") if replay else ("refresh_reuse", "session_revoked")
        record(session, event, outcome=outcome, user_id=row.user_id, session_id=row.id, client=client)
        session.commit()
        if replay is None:
            raise TokenInvalid()
        return replay
    pair = sessions.mint_pair(
        codec=codec,
        user_id=user_id,
        session_id=sid,
        now=now,
        credentials_version=claims[CREDENTIALS_CLAIM],
        level=level_of(claims),  # a refresh keeps the level the session was signed in with
    )
    rotation = {
        "sid": sid,
        "previous_refresh_jti": jti,
        "refresh_jti": pair.refresh.jti,
        "access_jti": pair.access.jti,
        "now": now,
        "expires_at": sessions.expiry(pair, codec),
    }
    session.connection().execute(_ROTATE, rotation)
    record(session, "refresh", outcome="success", user_id=user_id, session_id=sid, client=client)
    session.commit()
    return pair


class RefreshState(NamedTuple):
    """What a refresh token's liveness depends on, read in one statement: by ``refresh`` before it
    spends the token, and by introspection, which spends nothing. NULLs where the user or the
    session row is missing."""

    owner: int | None  # the session's user
    is_active: bool | None
    version: int | None  # the user's credentials version
    username: str | None
    role: str | None
    current_refresh_jti: str | None
    revoked_at: datetime | None
    session_blocked: int
    token_blocked: int


def refresh_state(connection: Connection, claims: dict[str, Any]) -> RefreshState:
    """The state of a decoded refresh token's session and user, as one read on ``connection``."""
    params = {"user_id": int(claims["sub"]), "sid": claims["sid"], "jti": claims["jti"]}
    return RefreshState(*connection.execute(_REFRESH_STATE, params).one())


# Everything a refresh checks, in one statement instead of three: who owns the session, the
# user's state, and whether the session or the token is blocked. One constant row drives the outer
# joins, so a missing user or session still gives a row (of NULLs).
_sessions = AuthSession.__table__  # type: ignore[attr-defined]
_one = core_select(literal(1).label("one")).subquery()
_REFRESH_STATE = (
    core_select(
        _sessions.c.user_id,
        col(User.is_active),
        col(User.credentials_version),
        col(User.username),
        col(User.role),
        _sessions.c.refresh_jti,
        _sessions.c.revoked_at,
        blocklist.matches("sid"),
        blocklist.matches("jti"),
    )
    .select_from(_one)
    .outerjoin(User, col(User.id) == bindparam("user_id"))
    .outerjoin(_sessions, _sessions.c.id == bindparam("sid"))
)
# The rotation itself, built once (the ORM's unit of work would rebuild it from the object's state).
_ROTATE = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("sid"))
    .values(
        previous_refresh_jti=bindparam("previous_refresh_jti"),
        refresh_jti=bindparam("refresh_jti"),
        access_jti=bindparam("access_jti"),
        rotated_at=bindparam("now", type_=UTCDateTime()),
        last_used_at=bindparam("now", type_=UTCDateTime()),
        expires_at=bindparam("expires_at", type_=UTCDateTime()),
    )
)


def _spend(session: Session, *, codec: TokenCodec, claims: dict[str, Any]) -> bool:
    """Record the refresh token as spent; False when another request spent it first.

    The insert is the lock: of concurrent refreshes with one token, exactly one gets True.
    """
    spent = blocklist.block(
        session,
        jti=claims["jti"],
        kind=BlockKind.REFRESH,
        user_id=int(claims["sub"]),
        expires_at=expiry_of(claims) + timedelta(seconds=codec.leeway),
    )
    if not spent:
        session.rollback()
    return spent


def _replayed_pair(
    session: Session,
    *,
    codec: TokenCodec,
    row: AuthSession,
    jti: str,
    level: Level,
    reuse_interval: int,
    now: datetime,
) -> TokenPair | None:
    """The live pair again, for a token spent within the reuse interval by its sibling tab; ``None``
    for a token seen again outside it (a copy). Writes nothing."""
    session.refresh(row)  # see the rotation a concurrent request just committed
    in_grace = (
        reuse_interval > 0
        and row.revoked_at is None
        and row.previous_refresh_jti == jti
        and now - row.rotated_at <= timedelta(seconds=reuse_interval)
    )
    if not in_grace:
        return None
    return sessions.mint_pair(
        codec=codec,
        user_id=row.user_id,
        session_id=row.id,
        now=row.rotated_at,
        credentials_version=row.credentials_version,
        access_jti=row.access_jti,
        refresh_jti=row.refresh_jti,
        level=level,  # the spent token's session's: the very pair its sibling tab was given
    )


def logout(
    *,
    session: Session,
    codec: TokenCodec,
    identity: Identity,
    scope: Scope = "local",
    client: ClientInfo = NO_CLIENT,
) -> int:
    """Revoke this session, every session of the user, or every other one; returns how many."""
    user_id = identity.user.id
    if scope == "local":
        count = sessions.revoke(
            session=session, codec=codec, session_ids=[identity.session_id], user_id=user_id, now=utcnow()
        )
    else:
        keep = identity.session_id if scope == "others" else None
        count = sessions.revoke_all(session=session, codec=codec, user_id=user_id, keep=keep)
    record(
        session,
        "logout",
        outcome="success",
        user_id=user_id,
        session_id=identity.session_id,
        client=client,
        scope=scope,
    )
    session.commit()
    return count


def end_session(
    *,
    session: Session,
    codec: TokenCodec,
    identity: Identity,
    session_id: str,
    client: ClientInfo = NO_CLIENT,
) -> None:
    """Revoke one of the caller's live sessions; any other id is ``NotFound`` (never someone else's)."""
    user_id, now = identity.user.id, utcnow()
    # Ids we mint are hex; anything else (a NUL, which PostgreSQL refuses in text) names no session.
    row = session.get(AuthSession, session_id) if session_id.isascii() and session_id.isalnum() else None
    if row is None or row.user_id != user_id or row.revoked_at is not None or row.expires_at <= now:
        raise NotFound("Session not found.")
    sessions.revoke(session=session, codec=codec, session_ids=[session_id], user_id=user_id, now=now)
    record(
        session,
        "logout",
        outcome="success",
        user_id=user_id,
        session_id=session_id,
        client=client,
        scope="session",
    )
    session.commit()
