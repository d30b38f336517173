"""Protect another Flask app's views with authsvc access tokens: ``require_token(roles=..., aal=...)``.

The verified claims (an ``AccessClaims``) are put on ``flask.g.token_claims``. Refusals use
authsvc's error shape, ``{"detail": ..., "code": ...}``, with RFC 6750's ``WWW-Authenticate``:
401 ``missing_token`` or ``invalid_token``, 403 ``forbidden`` (``insufficient_scope``), 403
``aal2_required`` for a live token below ``aal=2`` (authsvc's own code for it, with RFC 9470's
``insufficient_user_authentication`` in the challenge), and 503 ``auth_unavailable`` when authsvc's
keys or introspection cannot be reached (fail closed).

authsvc's access tokens carry no role, so ``roles=`` needs a verifier with introspection: the role
comes from authsvc's answer, read from the database at that moment. A verifier without it is a
configuration error, raised as soon as it is known (at decoration, or at the first request).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response, current_app, g, jsonify, request

from authsvc_client.jwks import VerifierUnavailable
from authsvc_client.verifier import InsufficientLevel, InvalidToken, TokenVerifier, required_level

EXTENSION = "authsvc_client.verifier"
P = ParamSpec("P")
R = TypeVar("R")


def init_app(app: Flask, verifier: TokenVerifier, *, realm: str = "api") -> None:
    """Make ``verifier`` the one ``require_token`` uses in ``app`` (unless given its own)."""
    app.extensions[EXTENSION] = (verifier, realm)


def _refusal(status: int, code: str, detail: str, challenge: str) -> Response:
    response = jsonify({"detail": detail, "code": code})
    response.status_code = status
    if challenge:
        response.headers["WWW-Authenticate"] = challenge
    return response


def _check_roles(verifier: TokenVerifier, roles: frozenset[str]) -> None:
    if roles and verifier.introspection is None:
        raise RuntimeError(
            "require_token(roles=...) needs a TokenVerifier with introspection: "
            "authsvc's access tokens carry no role"
        )


def require_token(
    roles: Iterable[str] | str | None = None, *, aal: int | None = None, verifier: TokenVerifier | None = None
) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """A view decorator: a live access token (with ``roles``, of one of those roles; with ``aal``, of
    at least that level, else the verifier's own) or a refusal."""
    wanted = frozenset([roles] if isinstance(roles, str) else roles or ())
    if aal is not None:
        required_level(aal)  # a bad level fails at decoration, not as a 500 at the first request
    if verifier is not None:
        _check_roles(verifier, wanted)

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            chosen, realm = _verifier(verifier)
            _check_roles(chosen, wanted)
            scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                return _refusal(
                    401, "missing_token", "Authentication is required.", f'Bearer realm="{realm}"'
                )
            try:
                claims = chosen.verify(token, aal=aal)
            except InsufficientLevel as low:
                challenge = f'Bearer realm="{realm}", error="insufficient_user_authentication"'
                return _refusal(403, low.code, "Sign in with your second factor to do this.", challenge)
            except InvalidToken:
                challenge = f'Bearer realm="{realm}", error="invalid_token"'
                return _refusal(401, "invalid_token", "The access token is invalid or expired.", challenge)
            except VerifierUnavailable:
                return _refusal(
                    503, "auth_unavailable", "Tokens cannot be checked now; try again shortly.", ""
                )
            if wanted and claims.role not in wanted:
                challenge = f'Bearer realm="{realm}", error="insufficient_scope"'
                return _refusal(403, "forbidden", "You do not have permission to do this.", challenge)
            g.token_claims = claims
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _verifier(given: TokenVerifier | None) -> tuple[TokenVerifier, str]:
    configured: Any = current_app.extensions.get(EXTENSION)
    if given is not None:
        return given, configured[1] if configured else "api"
    if configured is None:
        raise RuntimeError("require_token: call authsvc_client.flask.init_app(app, verifier) first")
    verifier, realm = configured
    return verifier, realm
