"""Cookie mode for single-page apps: the refresh token lives in an HttpOnly cookie that script can
never read, and a refresh by cookie must echo a CSRF value (double submit) in ``X-CSRF-Token``."""

from __future__ import annotations

from hmac import compare_digest

from flask import Response, request

from authsvc.config import Settings
from authsvc.exceptions import Forbidden
from authsvc.security import TokenCodec
from authsvc.services.sessions import TokenPair

REFRESH_COOKIE = "refresh_token"
CSRF_COOKIE = "csrf_refresh_token"
CSRF_HEADER = "X-CSRF-Token"
REFRESH_PATH = "/api/auth"  # the refresh cookie goes nowhere but the auth endpoints
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _secure(settings: Settings) -> bool:
    """``Secure`` always, except plain-http localhost in development (README says so)."""
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return not (settings.environment == "development" and not request.is_secure and host in LOCAL_HOSTS)


def set_refresh_cookies(
    response: Response, pair: TokenPair, *, codec: TokenCodec, settings: Settings
) -> None:
    secure = _secure(settings)
    max_age = settings.jwt_refresh_token_expires
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh.token,
        max_age=max_age,
        path=REFRESH_PATH,
        secure=secure,
        httponly=True,
        samesite="Strict",
    )
    # Readable by the page's script on purpose: it echoes the value in the X-CSRF-Token header.
    response.set_cookie(
        CSRF_COOKIE,
        codec.csrf_for(pair.refresh.jti),
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=False,
        samesite="Strict",
    )


def clear_refresh_cookies(response: Response, *, settings: Settings) -> None:
    secure = _secure(settings)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, secure=secure, httponly=True, samesite="Strict")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="Strict")


def refresh_cookie() -> str | None:
    return request.cookies.get(REFRESH_COOKIE)


def csrf_header() -> str:
    """The double-submit check: the header must echo the CSRF cookie. Returns the value, which the
    refresh service then checks against the one derived from the refresh token itself."""
    header = request.headers.get(CSRF_HEADER, "")
    if not header or not compare_digest(header, request.cookies.get(CSRF_COOKIE, "")):
        raise Forbidden(CSRF_REFUSED)
    return header


CSRF_REFUSED = "CSRF token missing or invalid: send the csrf_refresh_token cookie's value in X-CSRF-Token."
