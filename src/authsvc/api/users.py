"""``/api/users``: the admin listing and single user records."""

from __future__ import annotations

from flask import Response
from flask_openapi3 import APIBlueprint, Tag

from authsvc.api.deps import db
from authsvc.api.guard import current_identity, require_admin
from authsvc.api.render import json_response, user_record, user_records
from authsvc.schemas import ErrorOut, Page, UserOut, UserPath, UsersQuery
from authsvc.services import users

bp = APIBlueprint(
    "users",
    __name__,
    url_prefix="/api/users",
    abp_tags=[Tag(name="users", description="User records")],
    abp_security=[{"bearer": []}],
    abp_responses={400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)


@bp.get("/all", responses={200: Page})
def list_page(query: UsersQuery) -> Response:
    """One page of users, by id (admins only)."""
    require_admin()
    items, total, pages = users.page_users(session=db(), page=query.page, per_page=query.per_page)
    return json_response(
        {
            "items": user_records(items),
            "page": query.page,
            "per_page": query.per_page,
            "total": total,
            "pages": pages,
        }
    )


@bp.get("/<int:user_id>", responses={200: UserOut})
def get_one(path: UserPath) -> Response:
    """A user record: admins see anyone, a user only themselves."""
    viewer = current_identity().user
    return json_response(user_record(users.get_user_for(session=db(), viewer=viewer, user_id=path.user_id)))
