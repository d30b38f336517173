"""authsvc-client: talk to authsvc, accept its tokens, and test against it (API.md section 9).

- ``AuthsvcAuth``: an ``httpx.Auth`` that signs in, refreshes before expiry and after a 401, one
  refresh at a time however many threads or tasks share it.
- ``Authsvc``: a typed client of the API; every non-2xx answer raises ``AuthsvcError``.
- ``TokenVerifier``: a resource server's check of access tokens against the JWKS (and, optionally,
  introspection); ``authsvc_client.flask.require_token`` wraps it for Flask views.
- ``authsvc_client.pytest_plugin``: the ``authsvc_server`` and ``authsvc_user`` fixtures.

The Flask and pytest parts live in their own modules, so this import needs only httpx and PyJWT.
"""

from authsvc_client.auth import AuthsvcAuth
from authsvc_client.client import Authsvc
from authsvc_client.errors import AuthsvcError
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
from authsvc_client.verifier import AccessClaims, IntrospectionConfig, InvalidToken, TokenVerifier

__all__ = [
    "AccessClaims",
    "Authsvc",
    "AuthsvcAuth",
    "AuthsvcError",
    "CompatPair",
    "Discovery",
    "Health",
    "Introspection",
    "IntrospectionConfig",
    "InvalidToken",
    "LogoutResult",
    "PublicUser",
    "Session",
    "TokenPair",
    "TokenVerifier",
    "User",
    "UserPage",
    "VerifierUnavailable",
]
