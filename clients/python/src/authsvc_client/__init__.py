"""authsvc-client: talk to authsvc, accept its tokens, and test against it (API.md section 9).

- ``AuthsvcAuth``: an ``httpx.Auth`` that signs in, refreshes before expiry and after a 401, one
  refresh at a time however many threads or tasks share it.
- ``Authsvc``: a typed client of the API; every non-2xx answer raises ``AuthsvcError`` (and a sign-in
  that needs a second factor ``MfaRequired``, one of them).
- ``TokenVerifier``: a resource server's check of access tokens against the JWKS (and, optionally,
  introspection); ``authsvc_client.flask.require_token`` wraps it for Flask views.
- ``authsvc_client.pytest_plugin``: the ``authsvc_server`` and ``authsvc_user`` fixtures.

The Flask and pytest parts live in their own modules, so this import needs only httpx and PyJWT.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from authsvc_client.auth import AuthsvcAuth
    from authsvc_client.client import Authsvc
    from authsvc_client.errors import AuthsvcError, MfaRequired
    from authsvc_client.jwks import VerifierUnavailable
    from authsvc_client.models import (
        CompatPair,
        Discovery,
        Health,
        Introspection,
        LogoutResult,
        PublicUser,
        Session,
        TokenPair,
        User,
        UserPage,
    )
    from authsvc_client.verifier import (
        AccessClaims,
        InsufficientLevel,
        IntrospectionConfig,
        InvalidToken,
        TokenVerifier,
    )

# name -> module: imported on first use (PEP 562), so that pytest loading the plugin module in every
# suite of the environment costs nothing until a fixture is used.
_LAZY = {
    "AccessClaims": "authsvc_client.verifier",
    "Authsvc": "authsvc_client.client",
    "AuthsvcAuth": "authsvc_client.auth",
    "AuthsvcError": "authsvc_client.errors",
    "CompatPair": "authsvc_client.models",
    "Discovery": "authsvc_client.models",
    "Health": "authsvc_client.models",
    "InsufficientLevel": "authsvc_client.verifier",
    "Introspection": "authsvc_client.models",
    "IntrospectionConfig": "authsvc_client.verifier",
    "InvalidToken": "authsvc_client.verifier",
    "LogoutResult": "authsvc_client.models",
    "MfaRequired": "authsvc_client.errors",
    "PublicUser": "authsvc_client.models",
    "Session": "authsvc_client.models",
    "TokenPair": "authsvc_client.models",
    "TokenVerifier": "authsvc_client.verifier",
    "User": "authsvc_client.models",
    "UserPage": "authsvc_client.models",
    "VerifierUnavailable": "authsvc_client.jwks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'authsvc_client' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AccessClaims",
    "Authsvc",
    "AuthsvcAuth",
    "AuthsvcError",
    "CompatPair",
    "Discovery",
    "Health",
    "InsufficientLevel",
    "Introspection",
    "IntrospectionConfig",
    "InvalidToken",
    "LogoutResult",
    "MfaRequired",
    "PublicUser",
    "Session",
    "TokenPair",
    "TokenVerifier",
    "User",
    "UserPage",
    "VerifierUnavailable",
]
