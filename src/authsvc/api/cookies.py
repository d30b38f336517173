"""Cookie mode for single-page apps: the refresh token lives in an HttpOnly cookie that script can
never read, and a refresh by cookie must echo a CSRF value (double submit) in ``X-CSRF-Token``.

Cookie tossing: a page on a sibling subdomain (or any plain-http page on the same host) can set
cookies that the browser then sends to us beside our own. Three defences:

- prefixed names, which browsers accept only with ``Secure`` (``__Secure-``) and, for ``__Host-``,
  only from this very host (no ``Domain``) with ``Path=/``. The refresh cookie lives on
  ``/api/auth``, so it can only be ``__Secure-``; the CSRF cookie, on ``/``, is ``__Host-``, and a
  sibling can never forge the value the page echoes;
- reading only the names this request's cookies were set under (over https: the prefixed ones);
- refusing a request that carries two cookies of one of our names: we cannot tell which is ours.

The one exception is plain http to localhost in development, where cookies cannot be ``Secure`` and
browsers would drop prefixed names: there the cookies keep the bare names.
"""

from __future__ import annotations

from hmac import compare_digest
from typing import NamedTuple

from flask import Response, request

from authsvc.config import Settings
from authsvc.exceptions import Forbidden
from authsvc.security import TokenCodec
from authsvc.services.sessions import TokenPair

CSRF_HEADER = "X-CSRF-Token"
REFRESH_PATH = "/api/auth"  # the refresh cookie goes nowhere but the auth endpoints
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


class CookieNames(NamedTuple):
    refresh: str
    csrf: str


SECURE_NAMES = CookieNames(refresh="__Secure-refresh_token", csrf="__Host-csrf_refresh_token")
LOCAL_NAMES = CookieNames(refresh="refresh_token", csrf="csrf_refresh_token")  # plain-http localhost only
ALL_NAMES = (*SECURE_NAMES, *LOCAL_NAMES)


def _secure(settings: Settings) -> bool:
    """``Secure`` always, except plain-http localhost in development (docs/spa.md says so)."""
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return not (settings.environment == "development" and not request.is_secure and host in LOCAL_HOSTS)


def names(settings: Settings) -> CookieNames:
    """The names this request's cookies are set and read under: prefixed whenever they are ``Secure``."""
    return SECURE_NAMES if _secure(settings) else LOCAL_NAMES


def set_refresh_cookies(
    response: Response, pair: TokenPair, *, codec: TokenCodec, settings: Settings
) -> None:
    secure = _secure(settings)
    cookie = names(settings)
    max_age = settings.jwt_refresh_token_expires
    response.set_cookie(
        cookie.refresh,
        pair.refresh.token,
        max_age=max_age,
        path=REFRESH_PATH,
        secure=secure,
        httponly=True,
        samesite="Strict",
    )
    # Readable by the page's script on purpose: it echoes the value in the X-CSRF-Token header.
    # ``__Host-`` requires exactly this: Secure, Path=/ and no Domain.
    response.set_cookie(
        cookie.csrf,
        codec.csrf_for(pair.refresh.jti),
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=False,
        samesite="Strict",
    )


def clear_refresh_cookies(response: Response, *, settings: Settings) -> None:
    secure = _secure(settings)
    cookie = names(settings)
    response.delete_cookie(cookie.refresh, path=REFRESH_PATH, secure=secure, httponly=True, samesite="Strict")
    response.delete_cookie(cookie.csrf, path="/", secure=secure, samesite="Strict")


def refuse_duplicates() -> None:
    """Two cookies of one of our names mean someone else planted one (a sibling subdomain's
    ``Domain=`` cookie, or one on a longer path, which browsers send first): refuse rather than guess."""
    for name in ALL_NAMES:
        if len(request.cookies.getlist(name)) > 1:
            raise Forbidden(f"The request carries more than one {name} cookie; clear this site's cookies.")


def refresh_cookie(*, settings: Settings) -> str | None:
    """The refresh cookie under this request's name, after refusing a request with duplicates."""
    refuse_duplicates()
    return request.cookies.get(names(settings).refresh)


def csrf_header(*, settings: Settings) -> str:
    """The double-submit check: the header must echo the CSRF cookie. Returns the value, which the
    refresh service then checks against the one derived from the refresh token itself."""
    refuse_duplicates()
    header = request.headers.get(CSRF_HEADER, "")
    if not header or not compare_digest(header, request.cookies.get(names(settings).csrf, "")):
        raise Forbidden(CSRF_REFUSED)
    return header


CSRF_REFUSED = (
    "CSRF token missing or invalid: send the CSRF cookie's value (__Host-csrf_refresh_token, "
    "or csrf_refresh_token on plain-http localhost) in X-CSRF-Token."
)
