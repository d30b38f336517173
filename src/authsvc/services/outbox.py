"""The outbox: messages written in the same transaction as the change they tell of, then delivered
at least once by whichever process claims them first.

A request never waits for SMTP: its commit wakes this process's sender (``sender.OutboxSender``),
which claims due rows, sends them and deletes each once the server took it. A failure reschedules
the row with exponential backoff. A claim is a lease: a sender that dies mid-send leaves a row that
another picks up when the lease ends, so a message may arrive twice but is never lost.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from sqlalchemy import Engine, case, event, update
from sqlmodel import Session, col, delete, func, select

from authsvc.db import session_scope
from authsvc.messages import Composer, Kind, Letter
from authsvc.models import OutboxMessage, utcnow
from authsvc.sealing import SealedValueInvalid, Sealer
from authsvc.smtp import DeliveryFailed

log = logging.getLogger("authsvc.mail")
SEALING_INFO = b"authsvc outbox sealing v1"  # HKDF info: this derived key seals nothing else
LEASE = timedelta(seconds=120)  # longer than a send can take (connect and every step time out first)
FIRST_RETRY = 2.0  # seconds; doubled after each failure
LAST_RETRY = 900.0  # the longest wait between two attempts
BATCH = 20

Transport = Callable[[EmailMessage], None]


@dataclass
class Mailer:
    """What a service needs to queue mail: the composer, the outbox's sealer, and the wake-up of
    this process's sender, rung once the queuing transaction commits."""

    composer: Composer
    sealer: Sealer
    wake: Callable[[], None] = lambda: None

    def queue(
        self, session: Session, kind: Kind, *, to: str, token: str | None = None, **context: Any
    ) -> None:
        """Compose a message and add it to the outbox in ``session``'s transaction; the caller commits.

        Rolled back with the transaction, so a message never tells of a change that did not happen.
        """
        letter = self.composer.compose(kind, to=to, token=token, **context)
        session.add(seal(self.sealer, letter))
        event.listen(session, "after_commit", self._wake_once, once=True)

    def _wake_once(self, _session: Session) -> None:
        self.wake()


def seal(sealer: Sealer, letter: Letter) -> OutboxMessage:
    row_id = secrets.token_hex(16)
    sealed = sealer.seal(letter.message.as_bytes(policy=policy.SMTP), row_id)
    return OutboxMessage(id=row_id, kind=letter.kind.value, recipient=letter.recipient, sealed=sealed)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one pass over the outbox did; ``next_due`` is when the earliest waiting row is due."""

    sent: int
    failed: int
    next_due: datetime | None


def deliver_due(
    *, engine: Engine, sealer: Sealer, transport: Transport, now: Callable[[], datetime] = utcnow
) -> Delivery:
    """Claim the rows that are due, send them, and delete or reschedule each; repeat until none is due.

    Each claim and each outcome is its own short transaction: no database lock is held while an SMTP
    server is being talked to.
    """
    sent = failed = 0
    while claimed := _claim(engine, now=now()):
        for row_id, attempts in claimed:
            if _send_one(engine, sealer, transport, row_id=row_id, attempts=attempts, now=now):
                sent += 1
            else:
                failed += 1
    return Delivery(sent=sent, failed=failed, next_due=next_due(engine))


def _claim(engine: Engine, *, now: datetime) -> list[tuple[str, int]]:
    """Lease up to BATCH due rows to this sender. Each is claimed by a conditional update that only
    one sender can win (PostgreSQL re-checks the condition after a concurrent update commits; SQLite
    has one writer), so a row is never sent by two processes at once."""
    with session_scope(engine) as session:
        due = session.exec(
            select(OutboxMessage.id, OutboxMessage.attempts)
            .where(col(OutboxMessage.next_attempt_at) <= now, _unclaimed(now))
            .order_by(col(OutboxMessage.next_attempt_at))
            .limit(BATCH)
        ).all()
        claimed = []
        for row_id, attempts in due:
            won = session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row_id, _unclaimed(now))
                .values(claimed_until=now + LEASE, attempts=OutboxMessage.attempts + 1)
            )
            if won.rowcount == 1:
                claimed.append((row_id, attempts + 1))
        session.commit()
    return claimed


def _reason(error: Exception) -> str:
    """What the log and ``last_error`` say of a failed attempt: never the message or a credential."""
    if isinstance(error, DeliveryFailed):
        return str(error)
    if isinstance(error, SealedValueInvalid):
        return "the message does not open with this secret"
    return type(error).__name__


def retry_after(attempts: int, *, permanent: bool = False) -> float:
    """Seconds before the next attempt: doubling from FIRST_RETRY up to LAST_RETRY, and LAST_RETRY at
    once after a 5xx reply, which the server would likely give again. Never given up: a message is
    only ever deleted once a server took it."""
    if permanent:
        return LAST_RETRY
    return min(LAST_RETRY, FIRST_RETRY * 2.0 ** (attempts - 1))


def _unclaimed(now: datetime) -> Any:
    return (col(OutboxMessage.claimed_until).is_(None)) | (col(OutboxMessage.claimed_until) < now)


def _send_one(
    engine: Engine,
    sealer: Sealer,
    transport: Transport,
    *,
    row_id: str,
    attempts: int,
    now: Callable[[], datetime],
) -> bool:
    with session_scope(engine) as session:
        row = session.get(OutboxMessage, row_id)
        if row is None:  # sent by another sender whose lease we outwaited
            return True
        kind, sealed = row.kind, row.sealed
        session.rollback()  # nothing held while SMTP talks
    try:
        message = message_from_bytes(sealer.open(sealed, row_id), policy=policy.default)
        transport(message)
    except Exception as error:  # one bad message must never hold up the rest of the outbox
        wait = retry_after(attempts, permanent=isinstance(error, DeliveryFailed) and (error.code or 0) >= 500)
        reason = _reason(error)
        with session_scope(engine) as session:
            session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row_id)
                .values(
                    claimed_until=None,
                    next_attempt_at=now() + timedelta(seconds=wait),
                    last_error=reason[:200],
                )
            )
            session.commit()
        log.warning(
            "mail %s (%s) not sent, attempt %d: %s; next try in %.0f s", row_id, kind, attempts, reason, wait
        )
        return False
    with session_scope(engine) as session:
        session.exec(delete(OutboxMessage).where(col(OutboxMessage.id) == row_id))
        session.commit()
    log.info("mail %s (%s) sent", row_id, kind)
    return True


def next_due(engine: Engine) -> datetime | None:
    """When the earliest waiting row is due (the end of its lease, if another sender holds it)."""
    claimed = col(OutboxMessage.claimed_until)
    planned = col(OutboxMessage.next_attempt_at)
    due = case((claimed > planned, claimed), else_=planned)  # NULL > x is not true: unclaimed
    with session_scope(engine) as session:
        return cast("datetime | None", session.exec(select(func.min(due))).one())


def waiting(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(OutboxMessage)).one()
