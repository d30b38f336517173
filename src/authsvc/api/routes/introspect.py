"""``POST /api/auth/introspect`` (RFC 7662): a service client asks whether a token is live now.

The caller authenticates with HTTP Basic before anything else is read (a blueprint hook), so an
unauthenticated request learns nothing, not even whether its body was well formed; its failures
draw on the address's budget of wrong credentials, and the authenticated ones on the client's own.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote_plus

from flask import Response, g, request
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag
from flask_openapi3.utils import parse_body
from pydantic import ValidationError
from werkzeug.exceptions import BadRequest

from authsvc.api import limits
from authsvc.api.attempts import budgets
from authsvc.api.deps import client_info, db
from authsvc.api.errors import COMMON_RESPONSES, error_response
from authsvc.api.gate import refuse_oversized_stream
from authsvc.api.render import token_response
from authsvc.db import get_engine
from authsvc.exceptions import InvalidClient
from authsvc.extensions import get_codec
from authsvc.schemas import ErrorOut, IntrospectIn, IntrospectionOut, is_text
from authsvc.services import clients, introspection

FORM = "application/x-www-form-urlencoded"
MAX_BASIC_HEADER = 1024  # far above "Basic " and the base64 of a 22-character id and 43-character secret
CLIENT_BASIC: list[dict[str, list[str]]] = [{"clientBasic": []}]

# The body is read by the view, not by flask-openapi3 (which takes either JSON or a form, never
# both), so the document is told about both media types here, sharing one schema.
_content, _schemas = parse_body(IntrospectIn)
_json = _content["application/json"].model_dump(by_alias=True, exclude_none=True)
REQUEST_BODY: dict[str, Any] = {"required": True, "content": {"application/json": _json, FORM: _json}}

bp = APIBlueprint(
    "introspection",
    __name__,
    url_prefix="/api/auth",
    abp_tags=[Tag(name="introspection", description="For other services: is this token live? (RFC 7662)")],
    abp_responses={**COMMON_RESPONSES, 401: ErrorOut},
)
bp.components_schemas.update(_schemas)


@bp.before_request
def authenticate_client() -> None:
    """HTTP Basic with a service client's id and secret, or 401 ``invalid_client``."""
    with budgets().client_attempt():
        client_id, client_secret = basic_credentials()
        client = clients.authenticate(
            session=db(), client_id=client_id, client_secret=client_secret, client=client_info()
        )
    g.service_client_id = client.client_id


@bp.after_request
def never_cached(response: Response) -> Response:
    """RFC 7662 section 4 and RFC 6749 section 5.1: no cache may keep an answer about a token."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def basic_credentials() -> tuple[str, str]:
    """The client id and secret of ``Authorization: Basic base64(id:secret)``; anything else is
    ``InvalidClient``: no header, another scheme, bad base64, not UTF-8, no colon.

    RFC 6749 section 2.3.1 form-urlencodes the id and the secret before they are joined, so each
    is decoded again (``+`` is a space). Ours never change under that encoding, but a client
    library that applies it to every value must still work.
    """
    header = request.headers.get("Authorization")
    if header is None or len(header) > MAX_BASIC_HEADER or not is_text(header):
        raise InvalidClient()
    scheme, _, encoded = header.strip().partition(" ")
    encoded = encoded.strip()
    if scheme.lower() != "basic" or not encoded or " " in encoded:
        raise InvalidClient()
    try:  # ValueError: not base64 (binascii.Error), or not ASCII at all; then not UTF-8
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        client_id, colon, client_secret = decoded.partition(":")
        if not colon:
            raise InvalidClient()
        return unquote_plus(client_id, errors="strict"), unquote_plus(client_secret, errors="strict")
    except ValueError:
        raise InvalidClient() from None


@bp.post(
    "/introspect",
    responses={200: IntrospectionOut},
    security=CLIENT_BASIC,
    openapi_extensions={"requestBody": REQUEST_BODY},
)
@limits.introspect
def introspect() -> Response:
    """Tell a service client whether a token is live (RFC 7662).

    HTTP Basic with the client_id and client_secret of `flask clients create`. The body is form-encoded
    or JSON: `token`, and optionally `token_type_hint` (`access_token` or `refresh_token`, only a hint).
    A live token's answer has `active: true` and its claims; every other token, for whatever reason, gets
    `{"active": false}` alone.
    """
    parameters = _parameters()
    if isinstance(parameters, Response):
        return parameters
    live = introspection.introspect(
        engine=get_engine(), codec=get_codec(), token=parameters.token, hint=parameters.token_type_hint
    )
    return token_response(live.answer() if live is not None else {"active": False})


def _parameters() -> IntrospectIn | Response:
    """The request's parameters, or the 4xx that says the request itself is malformed."""
    refuse_oversized_stream()
    data: Any
    if request.mimetype == FORM:
        form = request.form
        if any(len(form.getlist(key)) > 1 for key in form):  # RFC 6749 section 3.1: never repeated
            return _invalid_request("Each parameter may be sent only once.")
        data = form.to_dict()
    elif request.is_json:
        try:
            data = request.get_json()
        except BadRequest:
            return error_response(400, "invalid_json", "The request body is not valid JSON.")
    else:
        return error_response(
            415,
            "unsupported_media_type",
            f"The request body must be form-encoded ({FORM}) or JSON (application/json).",
        )
    if not isinstance(data, dict):
        return _invalid_request("The request body must be a JSON object.")
    try:
        return IntrospectIn.model_validate(data)
    except ValidationError as error:
        fields = sorted({".".join(str(part) for part in item["loc"]) or "body" for item in error.errors()})
        return _invalid_request(f"Invalid body: check {', '.join(fields)} (token must be one string).")


def _invalid_request(detail: str) -> Response:
    """RFC 7662 section 2.1 (and RFC 6749 section 5.2) call a malformed request ``invalid_request``."""
    return error_response(400, "invalid_request", detail)
