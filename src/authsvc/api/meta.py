"""``/`` and ``/health``: what the service is and whether it can reach its database."""

from __future__ import annotations

from importlib.metadata import version

from flask import Response, url_for
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from authsvc.api.deps import db
from authsvc.api.errors import COMMON_RESPONSES
from authsvc.api.render import json_response
from authsvc.models import utcnow
from authsvc.schemas import Health, Welcome

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
    return json_response(Welcome(message="Welcome to authsvc", version=version("authsvc"), links=links))


@bp.get("/health", responses={200: Health, 503: Health})
def health() -> Response:
    """Liveness with a database round trip; 503 when the database cannot be reached."""
    try:
        db().exec(text("SELECT 1"))  # type: ignore[call-overload]
    except SQLAlchemyError:  # any failure to reach the database is "unavailable", never a 500
        return json_response(
            Health(
                status="error", message="Database unavailable", timestamp=utcnow(), database="unavailable"
            ),
            503,
        )
    return json_response(Health(status="success", message="OK", timestamp=utcnow(), database="ok"))
