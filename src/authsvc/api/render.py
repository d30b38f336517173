"""Shaping responses: models to JSON in field order, and the headers token responses need."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from json.encoder import encode_basestring as _quote
from typing import Any

from flask import Response, current_app
from pydantic import BaseModel

from authsvc.models import AuthSession, User
from authsvc.schemas import SessionOut
from authsvc.services.queries import PublicUserView, UserView


def json_response(payload: Any, status: int = 200) -> Response:
    """JSON exactly as docs/api.md prints it: keys in field order, ``", "``/``": "`` separators, no newline.

    Section 1's clients compare bodies byte for byte, so every response is rendered the same way.
    """
    body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    return current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )


def page_response(items: list[Any], *, page: int, per_page: int, total: int, pages: int) -> Response:
    """One page of a listing (users, audit events) in one shape, the total also in ``X-Total-Count``."""
    response = json_response(
        {"items": items, "page": page, "per_page": per_page, "total": total, "pages": pages}
    )
    response.headers["X-Total-Count"] = str(total)
    return response


def token_response(payload: Any, status: int = 200) -> Response:
    """Tokens must never be cached by a browser or proxy (RFC 6749 section 5.1)."""
    response = json_response(payload, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def user_record(user: User | UserView) -> dict[str, Any]:
    """A section 2 user record, exactly as ``UserOut`` would serialise it (a test holds the two equal)."""
    return {
        **listed_record(user),
        "email_verified": bool(user.email_verified),
        "mfa_enabled": bool(user.mfa_enabled),
    }


def listed_record(user: User | UserView) -> dict[str, Any]:
    """A user record as /list/ shows it (section 1), exactly as ``ListedUser`` would serialise it.

    Built by hand because /list/ renders thousands of them: this is several times faster than
    validating each one through pydantic, and it reads only the fields ``ListedUser`` names.
    """
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "is_active": user.is_active,
        "created_at": iso_utc(user.created_at),
    }


def iso_utc(moment: datetime | str) -> str:
    """ISO 8601 in UTC with a ``Z``, the form pydantic gives an aware datetime.

    The hot paths read UTC as stored: a naive datetime, or SQLite's text
    ``YYYY-MM-DD HH:MM:SS.ffffff``, which pydantic would print without a zero fraction.
    """
    if isinstance(moment, str):
        text = moment.replace(" ", "T", 1)
        return (text.removesuffix(".000000")) + "Z"
    if moment.tzinfo is None:
        return moment.isoformat() + "Z"
    return moment.isoformat().replace("+00:00", "Z")


def user_records(users: Iterable[User | UserView]) -> list[dict[str, Any]]:
    return [user_record(user) for user in users]


def user_json(user: User | UserView) -> str:
    """``json.dumps(listed_record(user), ensure_ascii=False)``, written directly (a test holds them equal).

    /list/ renders every user on every call; skipping the dict and the generic encoder is most of
    what brings it near a bare Flask endpoint. Strings go through the json module's own C escaper.
    """
    email = "null" if user.email is None else _quote(user.email)
    active = "true" if user.is_active else "false"
    # SQLModel types a table's id Optional (unsaved rows have none); a rendered user is a stored one.
    id_ = int(user.id)  # type: ignore[arg-type]
    return (
        f'{{"id": {id_}, "username": {_quote(user.username)}, "email": {email}, '
        f'"role": {_quote(user.role)}, "is_active": {active}, "created_at": "{iso_utc(user.created_at)}"}}'
    )


def public_user_record(user: User | UserView | PublicUserView) -> dict[str, Any]:
    """The public part of a user record, exactly as ``UserPublic`` would serialise it (a test holds
    the two equal): what /list/ shows someone who is not an admin."""
    return {"id": user.id, "username": user.username, "created_at": iso_utc(user.created_at)}


def public_user_json(user: User | UserView | PublicUserView) -> str:
    """``json.dumps(public_user_record(user), ensure_ascii=False)``, written directly like ``user_json``
    (a test holds them equal): most /list/ callers are not admins, so this is the path that is hot."""
    # SQLModel types a table's id Optional (unsaved rows have none); a rendered user is a stored one.
    id_ = int(user.id)  # type: ignore[arg-type]
    return f'{{"id": {id_}, "username": {_quote(user.username)}, "created_at": "{iso_utc(user.created_at)}"}}'


def json_array_response(encoded: Iterable[str], *, chunk: int = 1000) -> Response:
    """A JSON array of already-encoded items: sent whole when small, streamed in chunks when not.

    The bytes are the same either way (``json.dumps`` of the list), so /list/ stays byte-exact
    while a 100,000-user list never sits in memory at once.
    """
    iterator = iter(encoded)
    first = list(islice(iterator, chunk))
    if len(first) < chunk:
        return current_app.response_class("[" + ", ".join(first) + "]", mimetype="application/json")

    def body() -> Iterator[str]:
        yield "[" + ", ".join(first)
        while batch := list(islice(iterator, chunk)):
            yield ", " + ", ".join(batch)
        yield "]"

    return current_app.response_class(body(), mimetype="application/json")


def session_record(row: AuthSession, *, current: str) -> dict[str, Any]:
    return SessionOut(
        id=row.id,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        user_agent=row.user_agent,
        ip=row.ip,
        current=row.id == current,
    ).model_dump(mode="json")
