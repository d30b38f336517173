"""The one place where domain exceptions and HTTP errors become docs/api.md's JSON error shape."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request
from flask_openapi3.types import ResponseDict
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from authsvc import exceptions as exc
from authsvc import metrics
from authsvc.api import request_ids
from authsvc.api.render import json_response
from authsvc.schemas import NOT_TEXT, ErrorOut, error_message
from authsvc.services.health import database_failure_reason, is_missing_table

log = logging.getLogger("authsvc")

# Answers any endpoint can give (for the OpenAPI document): a bad body, one too large or not JSON,
# throttling, an unexpected failure, a database outage.
COMMON_RESPONSES: ResponseDict = dict.fromkeys((400, 413, 415, 429, 500, 503), ErrorOut)

# status -> (code, sentence) for errors raised by Flask/werkzeug themselves
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("validation_error", "The request could not be understood."),
    401: ("missing_token", "Authentication is required."),
    403: ("forbidden", "You do not have permission to do this."),
    404: ("not_found", "The requested URL was not found."),
    405: ("method_not_allowed", "The method is not allowed for this URL."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "The request body must be JSON (Content-Type: application/json)."),
    429: ("rate_limited", "Too many requests; slow down."),
    503: ("database_unavailable", "The database is unavailable; try again shortly."),
}

DOMAIN_STATUS: dict[type[exc.AuthError], int] = {
    exc.InvalidCredentials: 401,
    exc.InvalidClient: 401,
    exc.TokenMissing: 401,
    exc.TokenInvalid: 401,
    exc.Forbidden: 403,
    exc.EmailNotVerified: 403,
    exc.Aal2Required: 403,
    exc.MfaState: 409,
    exc.InvalidLink: 400,
    exc.RegistrationClosed: 403,
    exc.NotFound: 404,
    exc.UsernameTaken: 409,
    exc.EmailTaken: 409,
    exc.LastAdmin: 409,
    exc.ClientNameTaken: 409,
    exc.InvalidInput: 400,
    exc.RateLimitUnavailable: 503,
}


# endpoint -> its answer to a body whose only fault is a string that is not text (schemas.is_text).
# Section 1 fixes its refusals byte for byte: there such a string is an impossible credential or token,
# refused with the endpoint's usual 401 (api/routes/compat.py registers these); elsewhere it is a 400.
NOT_TEXT_ANSWERS: dict[str, Callable[[], Response]] = {}


def error_response(
    status: int, code: str, detail: str, errors: list[dict[str, Any]] | None = None, **extra: str
) -> Response:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if errors is not None:
        body["errors"] = errors
    return json_response({**body, **extra}, status)


def validation_error_response(error: ValidationError) -> Response:
    """flask-openapi3's hook: pydantic errors as 400 with ``errors``, never echoing the input."""
    items = error.errors(include_url=False, include_input=False, include_context=False)
    answer = NOT_TEXT_ANSWERS.get(request.endpoint or "")
    if answer is not None and all(item["type"] == NOT_TEXT for item in items):
        return answer()
    where = _location(error.title)
    errors = [{"loc": [where, *item["loc"]], "msg": error_message(item)} for item in items]
    fields = ", ".join(".".join(str(part) for part in e["loc"][1:]) or where for e in errors)
    return error_response(400, "validation_error", f"Invalid {where}: check {fields}.", errors)


def _location(model_name: str) -> str:
    # Request models are named by where they are read from: ...Query, ...Path, else the body.
    if model_name.endswith("Query"):
        return "query"
    if model_name.endswith("Path"):
        return "path"
    return "body"


def _handle_domain(error: exc.AuthError) -> Response:
    status = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(error, cls)), None)
    if status is None:  # a domain error nobody mapped is a bug: answer as one, never crash the handler
        return _handle_unexpected(error)
    errors = None
    if isinstance(error, exc.InvalidInput):
        errors = [{"loc": ["body", error.field], "msg": error.detail}]
    response = error_response(status, error.code, error.detail, errors)
    if isinstance(error, exc.InvalidClient):
        response.headers["WWW-Authenticate"] = BASIC_CHALLENGE  # RFC 6749 section 5.2
    elif status == 401:
        response.headers["WWW-Authenticate"] = bearer_challenge(
            token_failed=isinstance(error, exc.TokenInvalid)
        )
    return response


# Service clients authenticate with HTTP Basic (introspection); RFC 7617 names the realm and charset.
BASIC_CHALLENGE = 'Basic realm="authsvc", charset="UTF-8"'


def bearer_challenge(*, token_failed: bool) -> str:
    """RFC 6750: name ``invalid_token`` only when a presented token failed (a wrong password is not one)."""
    return 'Bearer error="invalid_token"' if token_failed else "Bearer"


def _handle_http(error: HTTPException) -> Response:
    status = error.code or 500
    if status == 429:
        metrics.RATE_LIMITED.labels(_limit_name(error)).inc()
    code, sentence = HTTP_ERRORS.get(status, ("internal_error", "The request failed."))
    response = error_response(status, code, sentence)
    headers = dict(error.get_headers())
    for name in ("Allow", "Retry-After"):  # keep the headers that tell a client what to do next
        if name in headers:
            response.headers[name] = headers[name]
    return response


def _limit_name(error: HTTPException) -> str:
    """Which limit refused: a Flask-Limiter scope (register, refresh, mail, introspect), or
    ``password`` for the budgets of password and code checks (attempts.py)."""
    limit = getattr(error, "limit", None)
    scope = getattr(limit, "scope", None)
    return scope if isinstance(scope, str) and scope in LIMIT_NAMES else "password"


LIMIT_NAMES = frozenset({"register", "refresh", "mail", "introspect"})


def _handle_database(error: DBAPIError | PoolTimeout) -> Response:
    metrics.DATABASE_ERRORS.inc()
    cause = getattr(error, "orig", None) or error
    log.warning("database unavailable: %s (%s)", database_failure_reason(error), type(cause).__name__)
    return error_response(503, *HTTP_ERRORS[503])


def _handle_programming(error: ProgrammingError) -> Response:
    """A table that is not there means a database nobody migrated: unavailable (503), not a bug."""
    if is_missing_table(error):
        metrics.DATABASE_ERRORS.inc()
        log.warning("database unavailable: schema not migrated (run flask db upgrade)")
        return error_response(503, *HTTP_ERRORS[503])
    return _handle_unexpected(error)


def _handle_unexpected(error: Exception) -> Response:
    request_id = request_ids.current()  # the same id the response header carries
    log.exception("unhandled error, request_id=%s", request_id)
    detail = "Internal server error."
    if current_app.debug:
        detail = f"{detail} ({type(error).__name__})"
    response = error_response(500, "internal_error", detail, request_id=request_id)
    response.headers[request_ids.HEADER] = request_id
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(exc.AuthError, _handle_domain)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(OperationalError, _handle_database)
    app.register_error_handler(ProgrammingError, _handle_programming)
    app.register_error_handler(InterfaceError, _handle_database)
    app.register_error_handler(PoolTimeout, _handle_database)  # every pooled connection busy
    app.register_error_handler(Exception, _handle_unexpected)
