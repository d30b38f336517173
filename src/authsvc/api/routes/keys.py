"""``/.well-known/``: the public signing keys (JWKS) and the discovery documents other services and API
gateways read to verify authsvc's tokens on their own (docs/keys.md)."""

from __future__ import annotations

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag

from authsvc.api.errors import COMMON_RESPONSES, error_response
from authsvc.api.render import json_response
from authsvc.extensions import get_codec, get_settings
from authsvc.schemas import Discovery, ErrorOut, Jwks

# Keys change only by rotation, and a new one is published as `next` long before it signs, so caches
# may keep the set for ten minutes; shared caches too: it holds nothing personal.
JWKS_CACHE = "public, max-age=600"
JWKS_PATH = "/.well-known/jwks.json"
INTROSPECTION_PATH = "/api/auth/introspect"

bp = APIBlueprint(
    "keys",
    __name__,
    abp_tags=[Tag(name="keys", description="Public keys and discovery, for services verifying tokens")],
    abp_responses=COMMON_RESPONSES,
)


@bp.get(JWKS_PATH, responses={200: Jwks})
def jwks() -> Response:
    """The public keys that verify tokens (next, current and retired); empty under HS256.

    Cacheable for ten minutes. A verifier meeting a token whose kid it does not know refetches this.
    """
    response = json_response({"keys": list(get_codec().ring.published())})
    response.headers["Cache-Control"] = JWKS_CACHE
    return response


def _discovery() -> Response:
    settings = get_settings()
    base = settings.public_base_url
    if base is None:  # production without FLASK_PUBLIC_URL: no absolute URL to give
        return error_response(404, "not_found", "Discovery needs FLASK_PUBLIC_URL to be set.")
    document = Discovery(
        issuer=settings.jwt_issuer,
        jwks_uri=base + JWKS_PATH,
        introspection_endpoint=base + INTROSPECTION_PATH,
        introspection_endpoint_auth_methods_supported=["client_secret_basic"],
        subject_types_supported=["public"],
        service_documentation=base + "/docs",
    )
    response = json_response(document)
    response.headers["Cache-Control"] = JWKS_CACHE
    return response


@bp.get("/.well-known/openid-configuration", responses={200: Discovery, 404: ErrorOut})
def openid_configuration() -> Response:
    """The discovery document, at the path OpenID Connect clients and API gateways read.

    Absolute URLs come from FLASK_PUBLIC_URL (never from the request's Host); 404 in production
    when it is not set.
    """
    return _discovery()


@bp.get("/.well-known/oauth-authorization-server", responses={200: Discovery, 404: ErrorOut})
def authorization_server_metadata() -> Response:
    """The same document, at the path of RFC 8414 (OAuth 2.0 authorization server metadata).

    Absolute URLs come from FLASK_PUBLIC_URL (never from the request's Host); 404 in production
    when it is not set.
    """
    return _discovery()
