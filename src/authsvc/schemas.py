"""Request and response bodies. Input and output are separate models, so a hash can never be serialised."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    RootModel,
    model_validator,
)

USERNAME_MAX = 150
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
_USERNAME_RE = re.compile(r"[\w.@+-]+")  # Django's rule: letters, digits and @ . + - _


def normalize_username(value: str) -> str:
    """NFKC then trim: look-alike forms of a name compare and store as one."""
    return unicodedata.normalize("NFKC", value).strip()


def username_key(value: str) -> str:
    """The case-insensitive identity of a username, used for uniqueness and lookup."""
    return normalize_username(value).casefold()


def _check_username(value: str) -> str:
    if not 1 <= len(value) <= USERNAME_MAX:
        raise ValueError(f"must be 1 to {USERNAME_MAX} characters")
    if not _USERNAME_RE.fullmatch(value):
        raise ValueError("may contain only letters, digits and @ . + - _")
    return value


def _check_password(value: str) -> str:
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise ValueError(f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    if "\0" in value:
        raise ValueError("must not contain a NUL character")
    return value


def _normalize(value: object) -> object:
    return normalize_username(value) if isinstance(value, str) else value


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


Username = Annotated[str, BeforeValidator(_normalize), AfterValidator(_check_username)]
NewPassword = Annotated[str, AfterValidator(_check_password)]
Email = Annotated[EmailStr, BeforeValidator(_lower), AfterValidator(str.lower)]
StrictStr = Annotated[str, Field(strict=True)]


class _Body(BaseModel):
    """Unknown fields are ignored; strings are never coerced from numbers."""

    model_config = ConfigDict(extra="ignore", str_strict=True)


class UserCreate(_Body):
    username: Username
    email: Email
    password: NewPassword


class AdminUserCreate(UserCreate):
    """An admin's new account (``POST /api/users``): registration's fields, and the role to give it."""

    role: Literal["user", "admin"] = "user"


class Credentials(_Body):
    # Sign-in does not apply the registration rules: a wrong-shaped password is just a wrong password.
    username: Annotated[StrictStr, BeforeValidator(_normalize)]
    password: StrictStr


class LoginIn(Credentials):
    cookie: Annotated[bool, Field(strict=True)] = Field(
        False,
        description="Cookie mode for SPAs: the refresh token is set as an HttpOnly cookie, not returned",
    )


class RefreshIn(_Body):
    refresh: StrictStr


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str | None
    role: Literal["user", "admin"]
    is_active: bool
    created_at: datetime


class UserPublic(BaseModel):
    """The part of a user record that /list/ shows a non-admin: no email, no role, no state."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    created_at: datetime


class UserList(RootModel[list[UserOut] | list[UserPublic]]):
    """The /list/ body: a bare JSON array of whole records for an admin, their public part for others."""


class TokenPair(BaseModel):
    """The section 1 shape: exactly these two keys, in this order."""

    refresh: str
    access: str


class RotatedPair(BaseModel):
    access: str
    refresh: str


class LoginOut(BaseModel):
    access_token: str
    refresh_token: str | None = Field(
        None, description="Absent in cookie mode, where it is an HttpOnly cookie"
    )
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class LogoutOut(BaseModel):
    message: str = "Signed out"
    scope: Literal["local", "global", "others"] = "local"
    revoked_sessions: int


class Page(BaseModel):
    items: list[UserOut]
    page: int
    per_page: int
    total: int
    pages: int


class UsersQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=1_000_000)  # bounded so the offset always fits the database's integer
    per_page: int = Field(5, ge=1, le=100)
    q: str | None = Field(None, max_length=320, description="Part of a username or email")
    role: Literal["user", "admin"] | None = None
    is_active: bool | None = None
    sort: Literal["id", "created_at", "-created_at", "username"] = "id"


class UserUpdate(_Body):
    """An admin's change to a user; absent fields stay as they are."""

    role: Literal["user", "admin"] | None = None
    is_active: Annotated[bool, Field(strict=True)] | None = None
    email: Email | None = None


class PasswordChange(_Body):
    current_password: StrictStr
    new_password: NewPassword


class AccountDeletion(_Body):
    """Deleting one's own account asks for the password again: a stolen access token is not enough.
    An admin deleting someone else sends no body."""

    current_password: StrictStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_body_is_empty(cls, data: object) -> object:
        return {} if data is None else data


class LogoutQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    scope: Literal["local", "global", "others"] = "local"


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool


class SessionList(RootModel[list[SessionOut]]):
    """The caller's live sessions, newest first."""


class SessionPath(BaseModel):
    session_id: str = Field(max_length=64)


class UserPath(BaseModel):
    user_id: int


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorOut(BaseModel):
    detail: str
    code: str
    errors: list[ErrorItem] | None = None


class CompatDetail(BaseModel):
    detail: str


class CompatMsg(BaseModel):
    msg: str


class CompatUnauthorized(RootModel[CompatDetail | CompatMsg]):
    """/list/'s 401: ``{"msg": ...}`` without a header, ``{"detail": ...}`` with a bad one."""


class Health(BaseModel):
    status: Literal["success", "error"]
    message: str
    timestamp: datetime
    database: Literal["ok", "unavailable"]


class Welcome(BaseModel):
    message: str
    version: str
    links: dict[str, str]
