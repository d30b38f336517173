"""The audit trail: a row in ``audit_event`` per security event, and one JSON line on the
``authsvc.audit`` logger once that row has committed.

``record`` writes the row in the caller's transaction, so the event and the change it records
commit or roll back together: a change that fails leaves neither a row nor a line claiming it. A
refusal (a failed sign-in) keeps nothing of its request but the event: the service rolls back,
records, and commits that alone. Only ids, the client's address and the outcome are written: never
a password, hash or token.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from authsvc import metrics, rawsql
from authsvc.models import AuditEvent, utcnow

log = logging.getLogger("authsvc.audit")
# The id of the request being served (``api.request_ids`` sets it), for audit and log lines.
REQUEST_ID: ContextVar[str | None] = ContextVar("authsvc_request_id", default=None)
USER_AGENT_MAX = 512  # the column's width; a longer header is cut, not refused
_PENDING = "authsvc_audit_pending"  # Session.info key: lines waiting for their rows' commit
_events = AuditEvent.__table__  # type: ignore[attr-defined]
# Compiled once for each dialect; ``inline``: no RETURNING of the new id, which nobody reads.
_INSERT = rawsql.compile_for_each(
    lambda _: (
        insert(_events).values({name: bindparam(name) for name in _events.c.keys() if name != "id"}).inline()
    )
)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who is calling, as far as the network tells: recorded on sessions and audit lines."""

    ip: str | None = None
    user_agent: str | None = None


NO_CLIENT = ClientInfo()


def record(
    session: Session,
    event: str,
    *,
    outcome: str,
    user_id: int | None = None,
    session_id: str | None = None,
    client: ClientInfo = NO_CLIENT,
    **details: str | int | None,
) -> None:
    """Write the event into ``session``'s transaction; its log line and metrics follow the commit.

    Call it just before the commit: on SQLite the insert takes the database's one writer.
    """
    now = utcnow()
    fields = {
        "event": event,
        "user_id": user_id,
        "session_id": session_id,
        "ip": client.ip,
        "outcome": outcome,
        "request_id": REQUEST_ID.get(),
    }
    user_agent = client.user_agent[:USER_AGENT_MAX] if client.user_agent else None
    row = {**fields, "time": now, "user_agent": user_agent, "details": details}
    _write_row(session.connection(), row)
    # The log line: the same fields, the time as text, the details spread out as before the table.
    session.info.setdefault(_PENDING, []).append({**fields, "time": now.isoformat(), **details})


def _write_row(connection: Connection, row: dict[str, Any]) -> None:
    """One INSERT on the driver's cursor, in the connection's transaction; the time and the details
    are converted by their column types, as SQLAlchemy would (``rawsql.Statement``)."""
    rawsql.execute_in(connection, _INSERT, row)


@sa_event.listens_for(Session, "after_commit")
def _emit(session: Session) -> None:
    """The rows are in: now their lines are true, and the counters may move."""
    for line in session.info.pop(_PENDING, ()):
        log.info(json.dumps(line))
        metrics.count_event(line["event"], line["outcome"])


@sa_event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ended without committing (rolled back, or closed) takes its lines along."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def init_app(_app: object = None) -> None:
    """Make audit lines (one JSON line each) and the mail sender's lines visible by default on
    stderr, unless logging is configured.

    An operator who configures logging (a handler on these loggers or the root logger) keeps control.
    """
    _visible(log, "%(message)s")
    _visible(logging.getLogger("authsvc.mail"), "%(name)s %(levelname)s [%(request_id)s]: %(message)s")


class RequestIdFilter(logging.Filter):
    """Gives every record ``request_id``: the request's, or ``-`` outside one (the sender thread)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


def _visible(logger: logging.Logger, form: str) -> None:
    logger.setLevel(logging.INFO)
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(form))
    logger.addHandler(handler)
