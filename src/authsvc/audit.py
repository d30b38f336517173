"""The audit trail: one JSON line per security event on the ``authsvc.audit`` logger.

Only ids, the client address and the outcome are written: never a password, hash or token.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass

from authsvc import metrics
from authsvc.models import utcnow

log = logging.getLogger("authsvc.audit")
# The id of the request being served (``api.request_ids`` sets it), for audit and log lines.
REQUEST_ID: ContextVar[str | None] = ContextVar("authsvc_request_id", default=None)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who is calling, as far as the network tells: recorded on sessions and audit lines."""

    ip: str | None = None
    user_agent: str | None = None


NO_CLIENT = ClientInfo()


def audit(
    event: str,
    *,
    outcome: str,
    user_id: int | None = None,
    session_id: str | None = None,
    client: ClientInfo = NO_CLIENT,
    **extra: str | int | None,
) -> None:
    line = {
        "event": event,
        "user_id": user_id,
        "session_id": session_id,
        "ip": client.ip,
        "outcome": outcome,
        "request_id": REQUEST_ID.get(),
        "time": utcnow().isoformat(),
        **extra,
    }
    log.info(json.dumps(line))
    metrics.count_event(event, outcome)


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
