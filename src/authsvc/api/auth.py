"""``/api/auth``: register, sign in, whoami, refresh and logout."""

from __future__ import annotations

from flask import Response
from flask_openapi3 import APIBlueprint, Tag

from authsvc.api.deps import codec, db, hasher
from authsvc.api.guard import bearer_token, current_identity
from authsvc.api.render import json_response, token_response, user_record
from authsvc.schemas import Credentials, ErrorOut, LoginOut, LogoutOut, UserCreate, UserOut
from authsvc.security import TokenCodec
from authsvc.services import auth, users
from authsvc.services.auth import TokenPair
from authsvc.services.passwords import check_password

bp = APIBlueprint(
    "auth",
    __name__,
    url_prefix="/api/auth",
    abp_tags=[Tag(name="auth", description="Accounts and tokens")],
    abp_responses={400: ErrorOut, 401: ErrorOut},
)
BEARER = [{"bearer": []}]


def _login_out(pair: TokenPair, token_codec: TokenCodec) -> LoginOut:
    return LoginOut(
        access_token=pair.access.token,
        refresh_token=pair.refresh.token,
        expires_in=int(token_codec.access_lifetime.total_seconds()),
    )


@bp.post("/register", responses={201: UserOut, 409: ErrorOut})
def register(body: UserCreate) -> Response:
    """Create an account with the ``user`` role."""
    check_password(body.password, username=body.username)
    user = users.create_user(
        session=db(), hasher=hasher(), username=body.username, password=body.password, email=body.email
    )
    return json_response(user_record(user), 201)


@bp.post("/login", responses={200: LoginOut})
def login(body: Credentials) -> Response:
    """Sign in: a new session with an access and a refresh token."""
    pair = auth.sign_in(
        session=db(), hasher=hasher(), codec=codec(), username=body.username, password=body.password
    )
    return token_response(_login_out(pair, codec()))


@bp.get("/whoami", responses={200: UserOut}, security=BEARER)
def whoami() -> Response:
    """The user behind the access token."""
    return json_response(user_record(current_identity().user))


@bp.get("/refresh", responses={200: LoginOut}, security=BEARER)
@bp.post("/refresh", responses={200: LoginOut}, security=BEARER)
def refresh() -> Response:
    """Rotate the refresh token given as Bearer: a new pair, the old refresh token spent."""
    pair = auth.refresh(session=db(), codec=codec(), token=bearer_token())
    return token_response(_login_out(pair, codec()))


@bp.get("/logout", responses={200: LogoutOut}, security=BEARER)
@bp.post("/logout", responses={200: LogoutOut}, security=BEARER)
def logout() -> Response:
    """Revoke this session: its access and refresh tokens stop working at once."""
    revoked = auth.logout(session=db(), codec=codec(), identity=current_identity())
    return json_response(LogoutOut(revoked_sessions=revoked))
