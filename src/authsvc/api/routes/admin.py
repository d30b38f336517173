"""``/api/admin``: what an admin asks of the service as a whole (the audit trail)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag

from authsvc.api.errors import COMMON_RESPONSES
from authsvc.api.guard import require_admin
from authsvc.api.render import iso_utc, page_response
from authsvc.db import get_engine
from authsvc.models import AuditEvent
from authsvc.schemas import AuditPage, AuditQuery, ErrorOut
from authsvc.services import audit_trail

bp = APIBlueprint(
    "admin",
    __name__,
    url_prefix="/api/admin",
    abp_tags=[Tag(name="admin", description="The audit trail")],
    abp_security=[{"bearer": []}],
    abp_responses={**COMMON_RESPONSES, 401: ErrorOut, 403: ErrorOut},
)


@bp.get("/audit", responses={200: AuditPage})
def audit(query: AuditQuery) -> Response:
    """Security events, newest first, filtered (admins only); X-Total-Count carries the total."""
    require_admin()
    where = audit_trail.AuditFilter(
        user_id=query.user_id, event=query.event, outcome=query.outcome, since=query.since, until=query.until
    )
    items, total, pages = audit_trail.page_events(
        engine=get_engine(), page=query.page, per_page=query.per_page, where=where
    )
    records = [_event_record(item) for item in items]
    return page_response(records, page=query.page, per_page=query.per_page, total=total, pages=pages)


def _event_record(event: AuditEvent) -> dict[str, Any]:
    """An event as ``AuditEventOut`` serialises it (``time`` in UTC with a ``Z``)."""
    return {
        "id": event.id,
        "time": iso_utc(event.time),
        "event": event.event,
        "outcome": event.outcome,
        "user_id": event.user_id,
        "session_id": event.session_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "details": event.details,
    }
