"""Housekeeping: drop what can no longer matter, so tables stay proportional to live tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, or_

from authsvc.models import AuthSession, MfaChallenge, TokenBlocklist
from authsvc.services import audit_trail, onetime


@dataclass(frozen=True, slots=True)
class Pruned:
    blocklist_rows: int
    sessions: int
    link_tokens: int
    audit_events: int


def prune(session: Session, *, now: datetime, audit_retention: timedelta) -> Pruned:
    """Delete expired blocklist rows, dead (expired or revoked) sessions, one-time link tokens
    that can no longer be spent, and audit events older than ``audit_retention``.

    A blocklist row outlives every token it can match, so deleting it after ``expires_at`` never
    revives a token; a revoked session stays blocked by its blocklist row while that matters.
    """
    rows = session.exec(delete(TokenBlocklist).where(col(TokenBlocklist.expires_at) < now))
    dead = session.exec(
        delete(AuthSession).where(
            or_(col(AuthSession.expires_at) < now, col(AuthSession.revoked_at).is_not(None))
        )
    )
    links = onetime.prune(session, now=now)
    # Sign-ins that never got their second factor: useless once expired.
    session.exec(delete(MfaChallenge).where(col(MfaChallenge.expires_at) < now))
    events = audit_trail.prune(session, before=now - audit_retention)
    session.commit()
    return Pruned(
        blocklist_rows=rows.rowcount, sessions=dead.rowcount, link_tokens=links, audit_events=events
    )
