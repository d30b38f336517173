"""``/`` and ``/health``: what the service is, and whether its database is reachable and migrated."""

from __future__ import annotations

from flask import Response, url_for
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag

from authsvc.api.attempts import budgets
from authsvc.api.deps import db
from authsvc.api.errors import COMMON_RESPONSES
from authsvc.api.render import json_response
from authsvc.config import VERSION
from authsvc.models import utcnow
from authsvc.schemas import Health, Liveness, Welcome
from authsvc.services.health import check_database

bp = APIBlueprint(
    "meta",
    __name__,
    abp_tags=[Tag(name="meta", description="Service information")],
    abp_responses=COMMON_RESPONSES,
)


@bp.get("/", responses={200: Welcome})
def index() -> Response:
    """Welcome, with links to the main endpoints."""
    links = {
        "login": url_for("auth.login"),
        "register": url_for("auth.register"),
        "whoami": url_for("auth.whoami"),
        "refresh": url_for("auth.refresh"),
        "logout": url_for("auth.logout"),
        "users": url_for("users.list_page"),
        "token": url_for("compat.obtain_pair"),
        "list": url_for("compat.list_all"),
        "health": url_for("meta.health"),
        "openapi": url_for("docs.openapi"),
        "docs": url_for("docs.docs"),
        "demo": url_for("demo.page"),
    }
    return json_response(Welcome(message="Welcome to authsvc", version=VERSION, links=links))


@bp.get("/health/live", responses={200: Liveness})
def live() -> Response:
    """Whether the process runs and answers: nothing else is checked (for a liveness probe).

    Readiness, the database included, is `GET /health`.
    """
    return json_response(Liveness(status="success"))


@bp.get("/health", responses={200: Health, 503: Health})
def health() -> Response:
    """Whether the database is reachable and migrated (else 503), and where throttling counts.

    A shared throttling storage that cannot be reached is reported, not hidden (still 200).
    """
    database = check_database(db())
    throttling = budgets().storage_state() if budgets().enabled else "off"
    if database.state == "ok":
        body = Health(
            status="success", message="OK", timestamp=utcnow(), database="ok", rate_limit_storage=throttling
        )
        return json_response(body)
    if database.state == "not_migrated":
        message = (
            f"Database schema is at {database.revision or 'nothing'}, this code needs {database.head}: "
            "run flask db upgrade"
        )
    else:
        message = "Database unavailable"
    body = Health(
        status="error",
        message=message,
        timestamp=utcnow(),
        database=database.state,
        rate_limit_storage=throttling,
    )
    return json_response(body, 503)
