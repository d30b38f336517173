"""Stored signing keys: make, load, rotate and prune the ``signing_key`` rows (docs/keys.md).

Each public function that writes commits once. Every writer first opens every stored key: a
``FLASK_SECRET_KEY`` that cannot (``KeysUndecryptable``) stops it before anything is made, so keys are
never silently replaced. Writers serialise on the table (``_lock``): two processes starting at once,
or a rotation racing a start, still leave exactly one current key per algorithm.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, text
from sqlmodel import Session, col, select

from authsvc.config import Settings
from authsvc.db import lock_for_write
from authsvc.domain import KEY_STATE_ORDER, KeyState
from authsvc.keyring import Loader, StoredKey
from authsvc.keys import HS256, KeySealer, generate, public_jwk
from authsvc.models import SigningKey, utcnow


@dataclass(frozen=True, slots=True)
class Rotation:
    current: str | None  # the kid that signs from now on (None under HS256)
    next: str | None
    retired: list[str]


def load_keys(*, session: Session, sealer: KeySealer) -> list[StoredKey]:
    """Every stored key, opened (``KeysUndecryptable`` if one does not open). Reads only."""
    rows = session.exec(select(SigningKey)).all()
    return [
        StoredKey(row.kid, row.algorithm, row.state, sealer.open(row.private_key, row.kid)) for row in rows
    ]


def ensure_keys(*, session: Session, sealer: KeySealer, algorithm: str) -> list[StoredKey]:
    """The stored keys, after giving an asymmetric ``algorithm`` a current and a next key if it has no
    current one (``flask init-db``, a first start). Commits once, and only when it makes keys."""
    stored = load_keys(session=session, sealer=sealer)
    if algorithm == HS256 or _has_current(stored, algorithm):
        return stored
    _lock(session)
    stored = load_keys(session=session, sealer=sealer)  # again: another process may have won the lock
    if _has_current(stored, algorithm):
        session.rollback()
        return stored
    now = utcnow()
    waiting = _rows(session, algorithm, KeyState.NEXT)
    if waiting:  # a next key already published: it signs first, so no service meets an unknown kid
        _promote(waiting[0], now)
        session.add(waiting[0])
    else:
        _add_key(session, sealer, algorithm, KeyState.CURRENT, now)
    _add_key(session, sealer, algorithm, KeyState.NEXT, now)
    session.commit()
    return load_keys(session=session, sealer=sealer)


def rotate(*, session: Session, sealer: KeySealer, algorithm: str) -> Rotation:
    """``flask keys rotate``: next -> current, current -> retired, a new next, for ``algorithm``;
    the current and next keys of any other algorithm (an earlier FLASK_JWT_ALGORITHM) retire too,
    so that ``prune`` can drop them once their tokens have expired. Commits once."""
    _lock(session)
    load_keys(session=session, sealer=sealer)  # a wrong FLASK_SECRET_KEY stops here
    now = utcnow()
    retired: list[str] = []
    for row in session.exec(select(SigningKey).where(col(SigningKey.state) != KeyState.RETIRED)).all():
        if row.algorithm != algorithm or row.state == KeyState.CURRENT:
            row.state, row.retired_at = KeyState.RETIRED, now
            retired.append(row.kid)
            session.add(row)
    current = next_kid = None
    if algorithm != HS256:
        waiting = _rows(session, algorithm, KeyState.NEXT)
        if waiting:
            _promote(waiting[0], now)
            session.add(waiting[0])
            current = waiting[0].kid
        else:  # nothing was published in advance (keys made by hand?): sign with a fresh one at once
            current = _add_key(session, sealer, algorithm, KeyState.CURRENT, now)
        next_kid = _add_key(session, sealer, algorithm, KeyState.NEXT, now)
    session.commit()
    return Rotation(current=current, next=next_kid, retired=retired)


def prune_horizon(settings: Settings) -> timedelta:
    """How long a retired key stays published: its last token may have been signed up to one reload
    interval after the rotation (by a process that had not reloaded yet), and lives a refresh
    lifetime, plus the clock leeway."""
    longest = max(settings.refresh_lifetime, settings.access_lifetime)
    return longest + timedelta(seconds=settings.jwt_leeway + max(60, settings.jwt_keys_reload_interval))


def prune(*, session: Session, horizon: timedelta, now: datetime | None = None) -> list[str]:
    """``flask keys prune``: drop the retired keys retired longer than ``horizon`` ago. Commits once."""
    cutoff = (now or utcnow()) - horizon
    stale = select(SigningKey.kid).where(
        col(SigningKey.state) == KeyState.RETIRED, col(SigningKey.retired_at) < cutoff
    )
    kids = list(session.exec(stale).all())
    if kids:
        session.execute(delete(SigningKey).where(col(SigningKey.kid).in_(kids)))
    session.commit()
    return kids


def list_keys(*, session: Session) -> list[SigningKey]:
    """Every stored key, current first, then next, then retired (newest first). Opens nothing."""
    rows = session.exec(select(SigningKey)).all()
    return sorted(rows, key=lambda r: (KEY_STATE_ORDER.get(r.state, 3), -r.created_at.timestamp()))


def loader(engine: Engine, *, sealer: KeySealer, algorithm: str) -> Loader:
    """What a process's key ring calls to (re)load: ensure this algorithm's keys, then read them all,
    in a session of its own (never the request's, whose transaction it must not end)."""

    def load() -> Sequence[StoredKey]:
        with Session(engine, expire_on_commit=False) as session:
            return ensure_keys(session=session, sealer=sealer, algorithm=algorithm)

    return load


# --- helpers: they never commit ---


def _has_current(stored: Sequence[StoredKey], algorithm: str) -> bool:
    return any(key.algorithm == algorithm and key.state == KeyState.CURRENT for key in stored)


def _rows(session: Session, algorithm: str, state: KeyState) -> list[SigningKey]:
    query = select(SigningKey).where(col(SigningKey.algorithm) == algorithm, col(SigningKey.state) == state)
    return list(session.exec(query.order_by(col(SigningKey.created_at))).all())


def _promote(row: SigningKey, now: datetime) -> None:
    row.state, row.activated_at = KeyState.CURRENT, now


def _add_key(session: Session, sealer: KeySealer, algorithm: str, state: KeyState, now: datetime) -> str:
    private_key = generate(algorithm)
    jwk = public_jwk(private_key, algorithm)
    session.add(
        SigningKey(
            kid=jwk["kid"],
            algorithm=algorithm,
            state=state,
            created_at=now,
            activated_at=now if state == KeyState.CURRENT else None,
            public_jwk=json.dumps(jwk),
            private_key=sealer.seal(private_key, jwk["kid"]),
        )
    )
    return jwk["kid"]


def _lock(session: Session) -> None:
    """Serialise key writers: SQLite's write lock, or PostgreSQL's lock on this schema's table (reads
    go on; a second writer waits, then sees the first one's keys)."""
    if session.connection().dialect.name == "sqlite":
        lock_for_write(session)
    else:
        session.execute(text("LOCK TABLE signing_key IN SHARE ROW EXCLUSIVE MODE"))
