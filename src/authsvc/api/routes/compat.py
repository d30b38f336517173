"""The section 1 endpoints: simplejwt- and Flask-JWT-Extended-compatible bodies, byte for byte."""

from __future__ import annotations

from typing import cast

from flask import Response, request
from flask.blueprints import BlueprintSetupState
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag
from flask_openapi3.openapi import OpenAPI
from werkzeug.exceptions import NotFound

from authsvc.api import limits
from authsvc.api.deps import client_info, db
from authsvc.api.errors import COMMON_RESPONSES, NOT_TEXT_ANSWERS, bearer_challenge
from authsvc.api.guard import current_identity
from authsvc.api.render import (
    json_array_response,
    json_response,
    public_user_json,
    token_response,
    user_json,
)
from authsvc.api.signin import sign_in
from authsvc.db import get_engine
from authsvc.exceptions import EmailNotVerified, InvalidCredentials, TokenInvalid, TokenMissing
from authsvc.extensions import SETTINGS, get_codec, get_settings
from authsvc.models import Role
from authsvc.schemas import (
    CompatDetail,
    CompatPair,
    CompatUnauthorized,
    Credentials,
    RefreshIn,
    RotatedPair,
    UserList,
)
from authsvc.services import auth, queries

bp = APIBlueprint(
    "compat",
    __name__,
    abp_tags=[
        Tag(name="compat", description="Compatibility endpoints (simplejwt / Flask-JWT-Extended bodies)")
    ],
    abp_responses=COMMON_RESPONSES,
)

BAD_LOGIN = {"detail": "Invalid username or password"}
MISSING_HEADER = {"msg": "Missing Authorization Header"}
BAD_TOKEN = {"detail": "Invalid username or password."}
BAD_REFRESH = {"detail": "Token is invalid or expired"}
PATHS = frozenset({"/token/", "/token/refresh/", "/list/"})


@bp.record_once
def _switch_off(state: BlueprintSetupState) -> None:
    """``FLASK_COMPAT_ENDPOINTS=false``: these paths answer 404 as if they did not exist, and leave
    the OpenAPI document.

    The routes stay registered, so ``url_for`` (the index's links) keeps working; instead a hook
    placed first of all answers 404 for any method on these paths (with or without the trailing
    slash) before routing's 405 or slash redirect, throttling or body checks could tell them apart
    from a path that never existed. It runs once the blueprint's paths are in the app's document.
    """
    app = cast(OpenAPI, state.app)  # registered with register_api on the OpenAPI app
    if app.extensions[SETTINGS].compat_endpoints:
        return
    app.before_request_funcs.setdefault(None, []).insert(0, _not_found)
    for path in PATHS:
        app.paths.pop(path, None)
    app.tags[:] = [tag for tag in app.tags if tag.name != bp.name]
    app.tag_names[:] = [name for name in app.tag_names if name != bp.name]


def _not_found() -> None:
    if request.path in PATHS or request.path + "/" in PATHS:
        raise NotFound()


def unauthorized(body: dict[str, str], *, token_presented: bool) -> Response:
    response = json_response(body, 401)
    response.headers["WWW-Authenticate"] = bearer_challenge(token_failed=token_presented)
    return response


@bp.post("/token/", responses={200: CompatPair, 401: CompatDetail})
def obtain_pair(body: Credentials) -> Response:
    """Sign in and get a refresh and an access token."""
    try:
        pair = sign_in(body.username, body.password)
    except (InvalidCredentials, EmailNotVerified):  # section 1 has one refusal, whatever the reason
        return unauthorized(BAD_LOGIN, token_presented=False)
    return token_response(CompatPair(refresh=pair.refresh.token, access=pair.access.token))


@bp.post("/token/refresh/", responses={200: RotatedPair, 401: CompatDetail})
@limits.refresh
def refresh_pair(body: RefreshIn) -> Response:
    """Rotate a refresh token: a new pair, the old refresh token spent."""
    try:
        pair = auth.refresh(
            session=db(),
            codec=get_codec(),
            token=body.refresh,
            reuse_interval=get_settings().jwt_refresh_reuse_interval,
            client=client_info(),
        )
    except TokenInvalid:
        return unauthorized(BAD_REFRESH, token_presented=True)
    return token_response(RotatedPair(access=pair.access.token, refresh=pair.refresh.token))


# A string that is not text (a lone surrogate) is no one's password and no token we minted: refused
# like any other impossible credential or token, with the exact body (before any lookup or hash).
NOT_TEXT_ANSWERS[f"{bp.name}.{obtain_pair.__name__}"] = lambda: unauthorized(BAD_LOGIN, token_presented=False)
NOT_TEXT_ANSWERS[f"{bp.name}.{refresh_pair.__name__}"] = lambda: unauthorized(
    BAD_REFRESH, token_presented=True
)


@bp.get(
    "/list/",
    responses={200: UserList, 401: CompatUnauthorized},
    security=[{"bearer": []}],
)
def list_all() -> Response:
    """Every user, ordered by id: whole records for admins, the public part for anyone else.

    With `FLASK_LIST_FULL_RECORDS=true` everyone signed in gets whole records.
    """
    try:
        # The token check stays one statement: the identity it returns already carries the role.
        viewer = current_identity().user
    except TokenMissing:
        return unauthorized(MISSING_HEADER, token_presented=False)
    except TokenInvalid:
        return unauthorized(BAD_TOKEN, token_presented=True)
    if viewer.role == Role.ADMIN or get_settings().list_full_records:
        return json_array_response(map(user_json, queries.iter_users(engine=get_engine())))
    return json_array_response(map(public_user_json, queries.iter_public_users(engine=get_engine())))
