"""Checks a JSON body's media type, size and syntax before flask-openapi3 validates its fields.

flask-openapi3 reads bodies with ``get_json(silent=True)``, which turns a form post or broken JSON
into "field required"; clients deserve to be told 415 or "invalid JSON" instead.
"""

from __future__ import annotations

import inspect

from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from authsvc.api.errors import error_response

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _endpoints_with_body(app: Flask) -> frozenset[str]:
    found = set()
    for endpoint, view in app.view_functions.items():
        func = getattr(view, "__wrapped__", None)
        if func is not None and "body" in inspect.signature(func).parameters:
            found.add(endpoint)
    return frozenset(found)


def refuse_oversized_stream() -> None:
    """413 for a body without a Content-Length (chunked) that runs past ``MAX_CONTENT_LENGTH``.

    Werkzeug refuses a declared length over the limit, but a streamed body it silently cuts at the
    limit, so the JSON looks truncated and the client is told 400 about a body it sent whole. One byte
    left on the wire after the limit (read past werkzeug's cut) means the body was too large.
    """
    limit = request.max_content_length
    if request.content_length is not None or limit is None:
        return  # a declared length is checked by werkzeug itself
    if len(request.get_data(cache=True)) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


# Views whose body may be left out entirely (resend verification with an access token).
OPTIONAL_BODY = frozenset({"email.resend_verification"})


def init_app(app: Flask) -> None:
    """Call after the blueprints are registered: it reads which views take a body."""
    with_body = _endpoints_with_body(app)

    @app.before_request
    def check_json_body() -> Response | None:
        if request.method not in BODY_METHODS or request.endpoint not in with_body:
            return None
        if request.endpoint in OPTIONAL_BODY and not request.content_length and not request.is_json:
            return None  # nothing sent at all: the view reads its body as empty
        if not request.is_json:
            return error_response(
                415,
                "unsupported_media_type",
                "The request body must be JSON (Content-Type: application/json).",
            )
        refuse_oversized_stream()
        try:
            data = request.get_json()
        except BadRequest:
            return error_response(400, "invalid_json", "The request body is not valid JSON.")
        if not isinstance(data, dict):
            return error_response(
                400,
                "validation_error",
                "The request body must be a JSON object.",
                [{"loc": ["body"], "msg": "Input should be a JSON object"}],
            )
        return None
