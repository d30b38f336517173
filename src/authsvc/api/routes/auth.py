"""``/api/auth``: register, sign in, whoami, refresh, logout, sessions and password change."""

from __future__ import annotations

from flask import Response, request
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag

from authsvc.api import cookies, limits
from authsvc.api.attempts import budgets
from authsvc.api.deps import client_info, db
from authsvc.api.errors import COMMON_RESPONSES
from authsvc.api.guard import bearer_token, current_identity
from authsvc.api.render import json_response, session_record, token_response, user_record
from authsvc.api.signin import sign_in, tokens
from authsvc.domain import level_of
from authsvc.extensions import get_codec, get_hasher, get_settings
from authsvc.mail import get_mailer
from authsvc.schemas import (
    ErrorOut,
    LoginAnswer,
    LoginIn,
    LoginOut,
    LogoutOut,
    LogoutQuery,
    MfaPendingOut,
    PasswordChange,
    SessionList,
    SessionPath,
    UserCreate,
    UserOut,
)
from authsvc.services import accounts, auth, sessions, users
from authsvc.services.mfa import MfaPending
from authsvc.services.verification import VerificationLinks

bp = APIBlueprint(
    "auth",
    __name__,
    url_prefix="/api/auth",
    abp_tags=[Tag(name="auth", description="Accounts, tokens and sessions")],
    abp_responses={**COMMON_RESPONSES, 401: ErrorOut},
)
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _refresh_token() -> tuple[str, str | None]:
    """The refresh token to rotate, and the CSRF value it must match when it came by cookie.

    A bearer header wins; a cookie is honoured only on POST and only with the double-submitted
    CSRF value (the service checks it against the token before anything is spent).
    """
    token = cookies.refresh_cookie(settings=get_settings())
    if request.method != "POST" or "Authorization" in request.headers or token is None:
        return bearer_token(), None
    return token, cookies.csrf_header(settings=get_settings())


@bp.post("/register", responses={201: UserOut, 403: ErrorOut, 409: ErrorOut})
@limits.register
def register(body: UserCreate) -> Response:
    """Create an account with the user role (403 registration_closed when registration is closed).

    With `FLASK_REGISTRATION=closed`, admins create accounts with `POST /api/users` instead.
    """
    user = users.register(
        session=db(),
        hasher=get_hasher(),
        username=body.username,
        password=body.password,
        email=body.email,
        min_score=get_settings().password_min_score,
        registration_open=get_settings().registration == "open",
        verification=_verification_links(),
        client=client_info(),
    )
    return json_response(user_record(user), 201)


def _verification_links() -> VerificationLinks | None:
    """A new account's verification link, unless FLASK_EMAIL_VERIFICATION=off."""
    settings = get_settings()
    if settings.email_verification == "off":
        return None
    return VerificationLinks(mailer=get_mailer(), lifetime=settings.verify_token_expires)


@bp.post("/login", responses={200: LoginAnswer})
def login(body: LoginIn) -> Response:
    """Sign in: a new session with an access and a refresh token ("cookie": true to refresh by cookie).

    For a user with a second factor the answer is `{"mfa_required": true, "mfa_token", "methods"}`
    instead, and `POST /api/auth/mfa/verify` with a code completes the sign-in.
    """
    pair = sign_in(body.username, body.password, cookie=body.cookie)
    if isinstance(pair, MfaPending):
        pending = MfaPendingOut(mfa_token=pair.mfa_token, methods=list(pair.methods))
        return token_response(pending.model_dump())
    return tokens(pair, cookie=body.cookie)


@bp.get("/whoami", responses={200: UserOut}, security=BEARER)
def whoami() -> Response:
    """The user behind the access token."""
    return json_response(user_record(current_identity().user))


@bp.get("/refresh", responses={200: LoginOut}, security=BEARER)
@bp.post("/refresh", responses={200: LoginOut}, security=BEARER)
@limits.refresh
def refresh() -> Response:
    """Rotate the refresh token (Bearer, or the cookie with X-CSRF-Token); the old one is spent."""
    token, csrf = _refresh_token()
    pair = auth.refresh(
        session=db(),
        codec=get_codec(),
        token=token,
        csrf=csrf,
        reuse_interval=get_settings().jwt_refresh_reuse_interval,
        client=client_info(),
    )
    return tokens(pair, cookie=csrf is not None)


@bp.get("/logout", responses={200: LogoutOut}, security=BEARER)
@bp.post("/logout", responses={200: LogoutOut}, security=BEARER)
def logout(query: LogoutQuery) -> Response:
    """Revoke this session (scope=local), all of the user's (global) or all others (others)."""
    revoked = auth.logout(
        session=db(), codec=get_codec(), identity=current_identity(), scope=query.scope, client=client_info()
    )
    response = json_response(LogoutOut(scope=query.scope, revoked_sessions=revoked))
    cookies.clear_refresh_cookies(response, settings=get_settings())
    return response


@bp.get("/sessions", responses={200: SessionList}, security=BEARER)
def list_sessions() -> Response:
    """The caller's live sessions, newest first; "current" marks the one making this request."""
    identity = current_identity()
    rows = sessions.live_sessions(session=db(), user_id=identity.user.id)
    return json_response([session_record(row, current=identity.session_id) for row in rows])


@bp.delete("/sessions/<session_id>", responses={204: None, 404: ErrorOut}, security=BEARER)
def delete_session(path: SessionPath) -> Response:
    """Sign out one of the caller's sessions (another device, or this one)."""
    auth.end_session(
        session=db(),
        codec=get_codec(),
        identity=current_identity(),
        session_id=path.session_id,
        client=client_info(),
    )
    return Response(status=204)


@bp.post("/password", responses={200: LoginOut}, security=BEARER)
def change_password(body: PasswordChange) -> Response:
    """Change the password: every earlier session ends, a new one starts.

    A wrong current password spends the account's sign-in budget, so a stolen access token is no
    way around it.
    """
    cookie = cookies.refresh_cookie(settings=get_settings()) is not None  # before anything changes
    identity = current_identity()
    user = identity.user
    with budgets().attempt(user.username, sign_in=False):
        pair = accounts.change_password(
            session=db(),
            hasher=get_hasher(),
            codec=get_codec(),
            user_id=user.id,
            current_password=body.current_password,
            new_password=body.new_password,
            min_score=get_settings().password_min_score,
            mailer=get_mailer(),
            level=level_of(identity.claims),
            client=client_info(),
        )
    return tokens(pair, cookie=cookie)
