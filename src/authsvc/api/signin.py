"""The one sign-in behind both URLs that offer it (``/api/auth/login`` and ``/token/``).

Its password-check budget is taken before the service runs (``attempts``), and the session cap
comes from the settings, so the two routes differ only in how they shape the answer.
"""

from __future__ import annotations

from authsvc.api.attempts import budgets
from authsvc.api.deps import client_info, db
from authsvc.extensions import get_codec, get_hasher, get_settings
from authsvc.services import auth
from authsvc.services.sessions import TokenPair


def sign_in(username: str, password: str) -> TokenPair:
    """A new session for these credentials, or ``InvalidCredentials`` (or a 429 before any hashing)."""
    with budgets().attempt(username, sign_in=True):
        return auth.sign_in(
            session=db(),
            hasher=get_hasher(),
            codec=get_codec(),
            username=username,
            password=password,
            max_sessions=get_settings().max_sessions_per_user,
            require_verified=get_settings().email_verification == "required",
            client=client_info(),
        )
