"""Shaping responses: models to JSON in field order, and the headers token responses need."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from flask import Response, current_app
from pydantic import BaseModel

from authsvc.models import AuthSession, User
from authsvc.schemas import SessionOut, UserOut


def json_response(payload: Any, status: int = 200) -> Response:
    """JSON exactly as API.md prints it: keys in field order, ``", "``/``": "`` separators, no newline.

    Section 1's clients compare bodies byte for byte, so every response is rendered the same way.
    """
    body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    return current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )


def token_response(payload: Any, status: int = 200) -> Response:
    """Tokens must never be cached by a browser or proxy (RFC 6749 section 5.1)."""
    response = json_response(payload, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def user_record(user: User) -> dict[str, Any]:
    return UserOut.model_validate(user).model_dump(mode="json")


def user_records(users: Sequence[User]) -> list[dict[str, Any]]:
    return [user_record(user) for user in users]


def session_record(row: AuthSession, *, current: str) -> dict[str, Any]:
    return SessionOut(
        id=row.id,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        user_agent=row.user_agent,
        ip=row.ip,
        current=row.id == current,
    ).model_dump(mode="json")
