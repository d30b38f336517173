"""The one sign-in behind both URLs that offer it (``/api/auth/login`` and ``/token/``), and the
login answer every route that starts a session gives (login, refresh, password change, MFA verify).

Its password-check budget is taken before the service runs (``attempts``), and the session cap
comes from the settings, so the two routes differ only in how they shape the answer.
"""

from __future__ import annotations

from flask import Response

from authsvc.api import cookies
from authsvc.api.attempts import budgets
from authsvc.api.deps import client_info, db
from authsvc.api.render import token_response
from authsvc.extensions import get_codec, get_hasher, get_settings
from authsvc.schemas import LoginOut
from authsvc.services import auth
from authsvc.services.mfa import MfaPending
from authsvc.services.sessions import TokenPair


def sign_in(
    username: str, password: str, *, cookie: bool = False, second_factor: bool = True
) -> TokenPair | MfaPending:
    """A new session for these credentials, an ``MfaPending`` when a second factor must follow, or
    ``InvalidCredentials`` (or a 429 before any hashing)."""
    with budgets().attempt(username, sign_in=True):
        return auth.sign_in(
            session=db(),
            hasher=get_hasher(),
            codec=get_codec(),
            username=username,
            password=password,
            max_sessions=get_settings().max_sessions_per_user,
            require_verified=get_settings().email_verification == "required",
            cookie=cookie,
            second_factor=second_factor,
            client=client_info(),
        )


def tokens(pair: TokenPair, *, cookie: bool = False) -> Response:
    """The login body; in cookie mode the refresh token goes into an HttpOnly cookie instead."""
    body = LoginOut(
        access_token=pair.access.token,
        refresh_token=None if cookie else pair.refresh.token,
        expires_in=get_settings().jwt_access_token_expires,
    )
    response = token_response(body.model_dump(exclude_none=True))
    if cookie:
        cookies.set_refresh_cookies(response, pair, codec=get_codec(), settings=get_settings())
    return response
