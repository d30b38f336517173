"""Throttling with Flask-Limiter: failed sign-ins per username and per client IP, registration and
refresh per IP. Counts live in memory, or in Redis (``FLASK_RATELIMIT_STORAGE_URI``) so that every
process of a deployment shares them.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from authsvc.api.deps import settings
from authsvc.config import Settings
from authsvc.schemas import username_key

limiter = Limiter(key_func=get_remote_address, headers_enabled=True, strategy="moving-window")


def _failed(response: Response) -> bool:
    """Only failed sign-ins count: a user who types the right password is never slowed down."""
    return response.status_code == 401


def _username_key() -> str:
    """The account a sign-in targets, so many IPs together cannot hammer one account."""
    body = request.get_json(silent=True)
    name = body.get("username") if isinstance(body, dict) else None
    return "user:" + (username_key(name)[:150] if isinstance(name, str) else "-")


# Shared limits: /token/ and /api/auth/login draw on one budget, and both refresh endpoints on one,
# so offering the same operation at two URLs never doubles what an attacker may try.
def sign_in(view):  # noqa: ANN001, ANN201  (decorators keep the view's signature for flask-openapi3)
    """Failed sign-ins: limited per username and per client IP."""
    per_user = limiter.shared_limit(
        lambda: settings().ratelimit_login_username,
        scope="sign-in-user",
        key_func=_username_key,
        deduct_when=_failed,
    )
    per_ip = limiter.shared_limit(
        lambda: settings().ratelimit_login_ip, scope="sign-in-ip", deduct_when=_failed
    )
    return per_ip(per_user(view))


def register(view):  # noqa: ANN001, ANN201
    return limiter.shared_limit(lambda: settings().ratelimit_register, scope="register")(view)


def refresh(view):  # noqa: ANN001, ANN201
    return limiter.shared_limit(lambda: settings().ratelimit_refresh, scope="refresh")(view)


def init_app(app: Flask, config: Settings) -> None:
    app.config.update(
        RATELIMIT_ENABLED=config.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=config.ratelimit_storage_uri,
        RATELIMIT_KEY_PREFIX="authsvc",
        # An unreachable Redis must not lock everyone out of signing in: fall back to memory.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )
    # Registered before the limiter's own hook so it runs after it (Flask runs these in reverse).
    app.after_request(_retry_after_only_when_refused)
    limiter.init_app(app)


def _retry_after_only_when_refused(response: Response) -> Response:
    """Flask-Limiter adds Retry-After to every limited response; it only means something on a 429."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response
