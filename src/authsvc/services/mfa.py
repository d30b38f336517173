"""The second factor: enrolling a TOTP authenticator, recovery codes, the two-step sign-in, and
turning the factor off (by the user, with a code and an aal 2 session, or by an admin).

Every code is accepted by a conditional update (a TOTP step newer than the last one used, a recovery
code not used yet), so a code works once and, of two requests racing with one, exactly one wins.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, update
from sqlmodel import Session, col, delete

from authsvc import totp
from authsvc.audit import NO_CLIENT, ClientInfo, record
from authsvc.domain import MFA_METHODS, SECOND_FACTOR, needs_step_up
from authsvc.exceptions import Aal2Required, InvalidCode, InvalidCredentials, MfaState, TokenInvalid
from authsvc.models import MfaChallenge, RecoveryCode, TotpFactor, User, utcnow
from authsvc.sealing import Sealer
from authsvc.security import PasswordHasher, TokenCodec
from authsvc.services import sessions
from authsvc.services.sessions import TokenPair
from authsvc.services.users import get_user

ISSUER = "authsvc"
CHALLENGE_LIFETIME = timedelta(minutes=5)
MAX_FAILURES = 5  # the fifth wrong code voids the mfa_token
SEALING_INFO = b"authsvc totp sealing v1"  # HKDF info: this derived key seals nothing else


@dataclass(frozen=True, slots=True)
class MfaSecrets:
    """The keys the factor needs, derived from FLASK_SECRET_KEY: one seals TOTP secrets, one keys
    the recovery codes' HMAC."""

    sealer: Sealer
    recovery: totp.RecoveryHasher

    @classmethod
    def from_secret(cls, secret_key: str) -> MfaSecrets:
        return cls(Sealer(secret_key, info=SEALING_INFO), totp.RecoveryHasher(secret_key))

    def seal(self, secret: str, user_id: int) -> str:
        return self.sealer.seal(secret.encode(), f"totp:{user_id}")

    def open(self, sealed: str, user_id: int) -> str:
        return self.sealer.open(sealed, f"totp:{user_id}").decode()


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True, slots=True)
class MfaPending:
    """A sign-in whose password was right: the ``mfa_token`` that completes it, and with what."""

    mfa_token: str
    methods: tuple[str, ...] = MFA_METHODS


def begin_enrolment(
    *,
    session: Session,
    hasher: PasswordHasher,
    keys: MfaSecrets,
    user_id: int,
    current_password: str,
    client: ClientInfo = NO_CLIENT,
) -> Enrolment:
    """A new pending TOTP secret (replacing a pending one); the factor is on once a code confirms it."""
    user = get_user(session, user_id)
    if not hasher.verify(current_password, user.password_hash):
        session.rollback()  # a refusal keeps nothing of its request but the event
        record(session, "mfa_enrol", outcome="failure", user_id=user_id, client=client)
        session.commit()
        raise InvalidCredentials("Current password is incorrect.")
    if user.mfa_enabled:
        raise MfaState("A second factor is already on: turn it off first.")
    secret = totp.new_secret()
    factor = session.get(TotpFactor, user_id) or TotpFactor(user_id=user_id, secret="")
    factor.secret, factor.created_at, factor.confirmed_at, factor.last_step = (
        keys.seal(secret, user_id),
        utcnow(),
        None,
        0,
    )
    session.add(factor)
    record(session, "mfa_enrol", outcome="started", user_id=user_id, client=client)
    session.commit()
    uri = totp.provisioning_uri(secret, account=user.username, issuer=ISSUER)
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))


def confirm_enrolment(
    *, session: Session, keys: MfaSecrets, user_id: int, code: str, client: ClientInfo = NO_CLIENT
) -> list[str]:
    """Turn the pending factor on with a first code; returns the ten recovery codes, shown once."""
    user = get_user(session, user_id)
    factor = session.get(TotpFactor, user_id)
    if factor is None or factor.confirmed_at is not None or user.mfa_enabled:
        raise MfaState("There is no pending second factor to confirm.")
    now = utcnow()
    step = totp.matching_step(keys.open(factor.secret, user_id), code.replace(" ", ""), now=now)
    confirmed = step is not None and _take_step(session, user_id, step, pending=True, now=now)
    if not confirmed:
        session.rollback()
        record(session, "mfa_enrol", outcome="invalid_code", user_id=user_id, client=client)
        session.commit()
        raise InvalidCode()
    user.mfa_enabled = True
    session.add(user)
    codes = _new_recovery_codes(session, keys, user_id)
    record(session, "mfa_enrol", outcome="success", user_id=user_id, client=client)
    session.commit()
    return codes


def regenerate_recovery_codes(
    *, session: Session, keys: MfaSecrets, user_id: int, code: str, client: ClientInfo = NO_CLIENT
) -> list[str]:
    """A new set of recovery codes for a code of the factor; the old set stops working."""
    user = get_user(session, user_id)
    if not user.mfa_enabled:
        raise MfaState("There is no second factor.")
    if _accept_code(session, keys, user_id, code, now=utcnow()) is None:
        session.rollback()  # a refusal keeps nothing of its request but the event
        record(session, "mfa_recovery_codes", outcome="invalid_code", user_id=user_id, client=client)
        session.commit()
        raise InvalidCode()
    codes = _new_recovery_codes(session, keys, user_id)
    record(session, "mfa_recovery_codes", outcome="success", user_id=user_id, client=client)
    session.commit()
    return codes


def disable(
    *, session: Session, keys: MfaSecrets, user_id: int, code: str, aal: int, client: ClientInfo = NO_CLIENT
) -> None:
    """Turn the factor off: needs a session signed in with it, and one of its codes."""
    user = get_user(session, user_id)
    if not user.mfa_enabled:
        raise MfaState("There is no second factor.")
    if needs_step_up(mfa_enabled=True, aal=aal):
        raise Aal2Required()
    if _accept_code(session, keys, user_id, code, now=utcnow()) is None:
        session.rollback()  # a refusal keeps nothing of its request but the event
        record(session, "mfa_disable", outcome="invalid_code", user_id=user_id, client=client)
        session.commit()
        raise InvalidCode()
    _remove(session, user)
    record(session, "mfa_disable", outcome="success", user_id=user_id, client=client)
    session.commit()


def reset(*, session: Session, user_id: int, actor_id: int | None = None, actor: str | None = None) -> None:
    """Remove a user's second factor for them (an admin, or ``flask reset-mfa``): a lost phone."""
    user = get_user(session, user_id)
    _remove(session, user)
    extra = {"actor_id": actor_id} if actor_id is not None else {"actor": actor}
    record(session, "mfa_reset", outcome="success", user_id=user_id, **extra)
    session.commit()


def start_challenge(session: Session, *, user: User, cookie: bool) -> MfaPending:
    """Record a sign-in that awaits its second factor; the caller commits."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        MfaChallenge(
            id=_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + CHALLENGE_LIFETIME,
            cookie=cookie,
            credentials_version=user.credentials_version,
        )
    )
    return MfaPending(mfa_token=token)


def challenge_owner(*, session: Session, mfa_token: str) -> str:
    """The username a live ``mfa_token`` belongs to (its failed-sign-in budget), or ``TokenInvalid``."""
    challenge = _live_challenge(session, mfa_token, now=utcnow())
    return get_user(session, challenge.user_id).username


def complete_challenge(
    *,
    session: Session,
    codec: TokenCodec,
    keys: MfaSecrets,
    mfa_token: str,
    code: str,
    max_sessions: int | None = None,
    client: ClientInfo = NO_CLIENT,
) -> tuple[TokenPair, bool]:
    """Finish a sign-in with a code: a session at ``aal`` 2, and whether the login asked for cookies.

    The mfa_token is spent first, by a conditional update, so it completes one sign-in at most; a
    wrong code gives it back with one more failure counted, and the fifth voids it.
    """
    now = utcnow()
    challenge = _live_challenge(session, mfa_token, now=now)
    spent = session.exec(
        update(MfaChallenge)
        .where(col(MfaChallenge.id) == challenge.id, col(MfaChallenge.spent_at).is_(None))
        .values(spent_at=now)
    )
    if spent.rowcount != 1:
        raise TokenInvalid()
    user = get_user(session, challenge.user_id)
    if not user.is_active or user.credentials_version != challenge.credentials_version:
        raise TokenInvalid()  # the password changed or the account was deactivated meanwhile
    method = _accept_code(session, keys, user.id or 0, code, now=now)
    if method is None:
        challenge_id, user_id = challenge.id, challenge.user_id  # the rollback expires them
        session.rollback()
        _count_failure(session, challenge_id)
        record(session, "sign_in", outcome="mfa_failure", user_id=user_id, client=client)
        session.commit()  # the refusal is its own small transaction: the failure must stay counted
        raise InvalidCode()
    pair = sessions.start(
        session=session, codec=codec, user=user, client=client, max_sessions=max_sessions, level=SECOND_FACTOR
    )
    record(
        session,
        "sign_in",
        outcome="success",
        user_id=user.id,
        session_id=pair.session_id,
        client=client,
        method=method,
    )
    session.commit()
    return pair, challenge.cookie


def _live_challenge(session: Session, mfa_token: str, *, now: datetime) -> MfaChallenge:
    challenge = session.get(MfaChallenge, _digest(mfa_token))
    if challenge is None or challenge.spent_at is not None or challenge.expires_at <= now:
        raise TokenInvalid()
    return challenge


def _count_failure(session: Session, challenge_id: str) -> None:
    """Count one more wrong code; the fifth voids the challenge. The caller commits."""
    failures = col(MfaChallenge.failures) + 1
    session.exec(
        update(MfaChallenge)
        .where(col(MfaChallenge.id) == challenge_id, col(MfaChallenge.spent_at).is_(None))
        .values(failures=failures, spent_at=case((failures >= MAX_FAILURES, utcnow()), else_=None))
    )


def _accept_code(session: Session, keys: MfaSecrets, user_id: int, code: str, *, now: datetime) -> str | None:
    """Spend ``code`` (a TOTP code, or a recovery code) in the caller's transaction: the method it
    was, or ``None`` when it is wrong or already used."""
    if len(code) > totp.MAX_CODE_LENGTH:
        return None
    if totp.is_totp_shaped(code):
        factor = session.get(TotpFactor, user_id)
        if factor is None or factor.confirmed_at is None:
            return None
        step = totp.matching_step(keys.open(factor.secret, user_id), code.replace(" ", ""), now=now)
        return (
            "totp"
            if step is not None and _take_step(session, user_id, step, pending=False, now=now)
            else None
        )
    normalized = totp.normalize_recovery_code(code)
    if normalized is None:
        return None
    used = session.exec(
        update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user_id,
            col(RecoveryCode.code_hash) == keys.recovery.hash(normalized),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=now)
    )
    return "recovery_code" if used.rowcount == 1 else None


def _take_step(session: Session, user_id: int, step: int, *, pending: bool, now: datetime) -> bool:
    """Record ``step`` as used if it is newer than every step used before (and confirm a pending
    factor with it); ``False`` when another request got there first or it is old."""
    confirmed = col(TotpFactor.confirmed_at)
    taken = session.exec(
        update(TotpFactor)
        .where(
            col(TotpFactor.user_id) == user_id,
            col(TotpFactor.last_step) < step,
            confirmed.is_(None) if pending else confirmed.is_not(None),
        )
        .values(last_step=step, **({"confirmed_at": now} if pending else {}))
    )
    return bool(taken.rowcount == 1)


def _new_recovery_codes(session: Session, keys: MfaSecrets, user_id: int) -> list[str]:
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
    codes = totp.new_recovery_codes()
    for code in codes:
        normalized = totp.normalize_recovery_code(code)
        assert normalized is not None
        session.add(RecoveryCode(user_id=user_id, code_hash=keys.recovery.hash(normalized)))
    return codes


def _remove(session: Session, user: User) -> None:
    for table in (TotpFactor, RecoveryCode, MfaChallenge):
        session.exec(delete(table).where(col(table.user_id) == user.id))
    user.mfa_enabled = False
    session.add(user)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
