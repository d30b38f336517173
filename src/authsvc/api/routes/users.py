"""``/api/users``: the admin listing, single user records, and account administration."""

from __future__ import annotations

from contextlib import nullcontext

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag

from authsvc.api.attempts import budgets
from authsvc.api.deps import client_info, db
from authsvc.api.errors import COMMON_RESPONSES
from authsvc.api.guard import current_identity, require_admin
from authsvc.api.render import json_response, page_response, user_record, user_records
from authsvc.db import get_engine
from authsvc.extensions import get_codec, get_hasher, get_settings
from authsvc.models import Role
from authsvc.schemas import (
    AccountDeletion,
    AdminUserCreate,
    ErrorOut,
    Page,
    UserOut,
    UserPath,
    UsersQuery,
    UserUpdate,
)
from authsvc.services import accounts, mfa, queries, users

bp = APIBlueprint(
    "users",
    __name__,
    url_prefix="/api/users",
    abp_tags=[Tag(name="users", description="User records and administration")],
    abp_security=[{"bearer": []}],
    abp_responses={**COMMON_RESPONSES, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)


@bp.post("", responses={201: UserOut, 409: ErrorOut})
def create(body: AdminUserCreate) -> Response:
    """Create an account (admins only, whatever FLASK_REGISTRATION says); role defaults to user."""
    admin = require_admin()
    user = users.create_by_admin(
        session=db(),
        hasher=get_hasher(),
        username=body.username,
        password=body.password,
        email=body.email,
        role=Role(body.role),
        actor_id=admin.user.id,
        min_score=get_settings().password_min_score,
        client=client_info(),
    )
    return json_response(user_record(user), 201)


@bp.get("/all", responses={200: Page})
def list_page(query: UsersQuery) -> Response:
    """One page of users, filtered and sorted (admins only); X-Total-Count carries the total."""
    require_admin()
    where = queries.UserFilter(q=query.q, role=query.role, is_active=query.is_active)
    items, total, pages = queries.page_users(
        engine=get_engine(), page=query.page, per_page=query.per_page, where=where, sort=query.sort
    )
    return page_response(
        user_records(items), page=query.page, per_page=query.per_page, total=total, pages=pages
    )


@bp.get("/<int:user_id>", responses={200: UserOut})
def get_one(path: UserPath) -> Response:
    """A user record: admins see anyone, a user only themselves."""
    viewer = current_identity().user
    return json_response(user_record(users.get_user_for(session=db(), viewer=viewer, user_id=path.user_id)))


@bp.patch("/<int:user_id>", responses={200: UserOut, 409: ErrorOut})
def update(path: UserPath, body: UserUpdate) -> Response:
    """Change a user's role, activation or email (admins only); deactivation ends their sessions."""
    admin = require_admin()
    user = accounts.update_user(
        session=db(),
        codec=get_codec(),
        user_id=path.user_id,
        role=Role(body.role) if body.role else None,
        is_active=body.is_active,
        email=body.email,
        email_verified=body.email_verified,
        actor_id=admin.user.id,
        client=client_info(),
    )
    return json_response(user_record(user))


@bp.delete("/<int:user_id>", responses={204: None, 409: ErrorOut})
def delete(path: UserPath, body: AccountDeletion) -> Response:
    """Delete an account (an admin's, or one's own with current_password); its tokens fail at once.

    A wrong password spends the account's sign-in budget.
    """
    actor = current_identity().user
    own = actor.id == path.user_id
    with budgets().attempt(actor.username, sign_in=False) if own else nullcontext():
        accounts.delete_user(
            session=db(),
            codec=get_codec(),
            hasher=get_hasher(),
            actor=actor,
            user_id=path.user_id,
            current_password=body.current_password,
            client=client_info(),
        )
    return Response(status=204)


@bp.delete("/<int:user_id>/mfa", responses={204: None, 404: ErrorOut})
def reset_mfa(path: UserPath) -> Response:
    """Remove a user's second factor for them (a lost phone): admins only.

    The user signs in with the password alone again, and may enrol anew.
    """
    admin = require_admin()
    mfa.reset(session=db(), user_id=path.user_id, actor_id=admin.user.id)
    return Response(status=204)
