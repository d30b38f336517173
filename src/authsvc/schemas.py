"""Request and response bodies. Input and output are separate models, so a hash can never be serialised."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    JsonValue,
    RootModel,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from authsvc.domain import USERNAME_MAX, normalize_username


def error_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message for people: without the "Value error, " prefix pydantic puts on
    the messages our own validators raise."""
    message = str(error["msg"])
    return message.removeprefix("Value error, ") if error.get("type") == "value_error" else message


PASSWORD_MIN = 8
PASSWORD_MAX = 1024
_USERNAME_RE = re.compile(r"[\w.@+-]+")  # Django's rule: letters, digits and @ . + - _
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
NOT_TEXT = "string_not_text"  # the error type of a string that is not text (api/errors.py knows it)


def is_text(value: str) -> bool:
    """False for a string holding a surrogate code point.

    A JSON escape (``"\\ud800"``), or the bytes ``ED A0 80`` that Python's JSON decoder lets through,
    can put one in a str, but no UTF-8 can encode it: the database driver and bcrypt would raise on it.
    """
    return _SURROGATE_RE.search(value) is None


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
    """Unknown fields are ignored; strings are never coerced from numbers; every string is text.

    (Pydantic never turns a number into a str unless ``coerce_numbers_to_str`` is set.)
    """

    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _strings_are_text(cls, value: object) -> object:
        # Before any other check of any field, so no normaliser, service or driver ever sees one.
        if isinstance(value, str) and not is_text(value):
            raise PydanticCustomError(
                NOT_TEXT, "Input should be valid Unicode text (it holds a lone surrogate)"
            )
        return value


def _example(**values: JsonValue) -> ConfigDict:
    """A realistic request body for /docs, so a person trying an operation starts from something
    that works instead of ``"string"``. (``example``, singular: flask-openapi3's schema object keeps
    that one and drops JSON Schema's ``examples``.)"""
    return ConfigDict(extra="ignore", json_schema_extra={"example": values})


class UserCreate(_Body):
    model_config = _example(username="ada", email="ada@example.com", password="correct-horse-battery")

    username: Username
    email: Email
    password: NewPassword


class AdminUserCreate(UserCreate):
    """An admin's new account (``POST /api/users``): registration's fields, and the role to give it."""

    role: Literal["user", "admin"] = "user"


class Credentials(_Body):
    model_config = _example(username="ada", password="correct-horse-battery")

    # Sign-in does not apply the registration rules: a wrong-shaped password is just a wrong password.
    username: Annotated[StrictStr, BeforeValidator(_normalize)]
    password: StrictStr


class LoginIn(Credentials):
    model_config = _example(username="ada", password="correct-horse-battery", cookie=False)

    cookie: Annotated[bool, Field(strict=True)] = Field(
        False,
        description="Cookie mode for SPAs: the refresh token is set as an HttpOnly cookie, not returned",
    )


class RefreshIn(_Body):
    model_config = _example(refresh="<the refresh token from POST /token/>")

    refresh: StrictStr


USER_EXAMPLE: JsonDict = {
    "id": 1,
    "username": "ada",
    "email": "ada@example.com",
    "role": "user",
    "is_active": True,
    "created_at": "2026-12-01T09:30:00Z",
}


class ListedUser(BaseModel):
    """A user record as section 1's ``GET /list/`` shows it to an admin: exactly these six keys."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"example": USER_EXAMPLE},
    )

    id: int
    username: str
    email: str | None
    role: Literal["user", "admin"]
    is_active: bool
    created_at: datetime


class UserOut(ListedUser):
    """A user record of section 2 (whoami, registration, /api/users): the listed keys, and whether
    the address was proven."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"example": {**USER_EXAMPLE, "email_verified": True, "mfa_enabled": False}},
    )

    email_verified: bool
    mfa_enabled: bool


class UserPublic(BaseModel):
    """The part of a user record that /list/ shows a non-admin: no email, no role, no state."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    created_at: datetime


class UserList(RootModel[list[ListedUser] | list[UserPublic]]):
    """The /list/ body: a bare JSON array of whole records for an admin, their public part for others."""


class CompatPair(BaseModel):
    """The /token/ body, section 1's shape: exactly these two keys, in this order."""

    refresh: str
    access: str


class RotatedPair(BaseModel):
    access: str
    refresh: str


class LoginOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "access_token": "<JWT>",
                "refresh_token": "<JWT>",
                "token_type": "Bearer",
                "expires_in": 900,
            }
        }
    )
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


class QueryModel(BaseModel):
    """A query string's model. flask-openapi3 asks it for its whole JSON schema on every request (to
    find list-typed fields), which cost about a millisecond per admin page; the schema of a class
    never changes, so each is built once and handed out as a copy (callers may edit what they get)."""

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (cls, args, tuple(sorted(kwargs.items())))
        if key not in _SCHEMAS:
            _SCHEMAS[key] = super().model_json_schema(*args, **kwargs)
        return copy.deepcopy(_SCHEMAS[key])


_SCHEMAS: dict[tuple[Any, ...], dict[str, Any]] = {}


def _as_utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is UTC (API.md section 8); one with a zone is moved to UTC."""
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise ValueError("must be within years 1 to 9999 in UTC") from None


UtcTime = Annotated[datetime | None, AfterValidator(_as_utc)]
# Event and outcome names are ours: lower-case words joined by "_". Anything else names none.
AuditName = Annotated[str | None, Field(None, pattern=r"^[a-z0-9_]{1,32}$")]


class AuditQuery(QueryModel):
    """The filters of the admin's audit listing: ``since`` included, ``until`` excluded."""

    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)
    user_id: int | None = Field(None, ge=1, le=2**31 - 1)  # the user table's integer
    event: AuditName = None
    outcome: AuditName = None
    since: UtcTime = Field(None, description="ISO 8601, UTC when it has no zone; included")
    until: UtcTime = Field(None, description="ISO 8601, UTC when it has no zone; excluded")


class AuditEventOut(BaseModel):
    """One audit event: ids, the client's address and the outcome, never a secret."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "id": 42,
                "time": "2026-12-06T09:30:00.123456Z",
                "event": "sign_in",
                "outcome": "failure",
                "user_id": 7,
                "session_id": None,
                "ip": "198.51.100.23",
                "user_agent": "Mozilla/5.0",
                "request_id": "5f2b0c9e7d4a4f0e9a6b1c3d2e4f5a6b",
                "details": {},
            }
        }
    )

    id: int
    time: datetime
    event: str
    outcome: str
    user_id: int | None
    session_id: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, JsonValue]


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    page: int
    per_page: int
    total: int
    pages: int


class UsersQuery(QueryModel):
    page: int = Field(1, ge=1, le=1_000_000)  # bounded so the offset always fits the database's integer
    per_page: int = Field(5, ge=1, le=100)
    q: str | None = Field(None, max_length=320, description="Part of a username or email")
    role: Literal["user", "admin"] | None = None
    is_active: bool | None = None
    sort: Literal["id", "created_at", "-created_at", "username"] = "id"


class UserUpdate(_Body):
    """An admin's change to a user; absent fields stay as they are."""

    model_config = _example(role="admin", is_active=True)

    role: Literal["user", "admin"] | None = None
    is_active: Annotated[bool, Field(strict=True)] | None = None
    email: Email | None = None
    # A changed email is unverified unless this says otherwise in the same request.
    email_verified: Annotated[bool, Field(strict=True)] | None = None


class PasswordChange(_Body):
    model_config = _example(current_password="correct-horse-battery", new_password="a-new-long-passphrase-7")

    current_password: StrictStr
    new_password: NewPassword


class _OptionalBody(_Body):
    """A body the client may leave out entirely: none reads as ``{}``."""

    @model_validator(mode="before")
    @classmethod
    def _no_body_is_empty(cls, data: object) -> object:
        return {} if data is None else data


class AccountDeletion(_OptionalBody):
    """Deleting one's own account asks for the password again: a stolen access token is not enough.
    An admin deleting someone else sends no body."""

    model_config = _example(current_password="correct-horse-battery")

    current_password: StrictStr | None = None


class LogoutQuery(QueryModel):
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


class IntrospectIn(BaseModel):
    """RFC 7662's request, form-encoded or JSON. Not a ``_Body``: a token that is not text is no
    live token, answered ``{"active": false}`` like any other, never a 400 saying why."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "example": {"token": "<an access or refresh token>", "token_type_hint": "access_token"}
        },
    )

    token: StrictStr = Field(description="The token to ask about")
    token_type_hint: StrictStr | None = Field(
        None, description="access_token or refresh_token: only which kind is tried first"
    )


class IntrospectionOut(BaseModel):
    """RFC 7662's answer: ``{"active": false}`` alone for any token that is not live."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "active": True,
                "token_type": "access",
                "sub": "1",
                "username": "ada",
                "role": "user",
                "sid": "5f0c...",
                "jti": "9a3e...",
                "iat": 1764600000,
                "exp": 1764600900,
                "iss": "authsvc",
                "aud": "authsvc",
            }
        }
    )

    active: bool
    token_type: Literal["access", "refresh"] | None = None
    sub: str | None = None
    username: str | None = None
    role: str | None = None
    sid: str | None = None
    jti: str | None = None
    iat: int | None = None
    exp: int | None = None
    iss: str | None = None
    aud: str | None = None


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"detail": "Invalid username or password.", "code": "invalid_credentials"}
        }
    )
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
    database: Literal["ok", "unavailable", "not_migrated"]
    # memory: counted per process as configured; ok: the shared storage answers; fallback: it does not,
    # counted per process meanwhile; unavailable: it does not, and password checks are refused.
    rate_limit_storage: Literal["memory", "ok", "fallback", "unavailable", "off"]


class Liveness(BaseModel):
    status: Literal["success"] = "success"


class Welcome(BaseModel):
    message: str
    version: str
    links: dict[str, str]


class Jwk(BaseModel):
    """A public key as RFC 7517 writes it: OKP has crv and x, EC crv, x and y, RSA n and e."""

    kid: str
    kty: Literal["OKP", "EC", "RSA"]
    alg: Literal["EdDSA", "ES256", "RS256"]
    use: Literal["sig"]
    crv: str | None = None
    x: str | None = None
    y: str | None = None
    n: str | None = None
    e: str | None = None


class Jwks(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"keys": []}})
    keys: list[Jwk]


class Discovery(BaseModel):
    """RFC 8414 / OpenID Connect discovery, only what is true of this service."""

    issuer: str
    jwks_uri: str
    introspection_endpoint: str
    introspection_endpoint_auth_methods_supported: list[str]
    subject_types_supported: list[str]
    service_documentation: str


# Email: recovery and verification (API.md section 6). A token of the wrong shape is the service's
# 400 invalid_link, like any other bad token; only absurd sizes are refused as validation errors.
LinkToken = Annotated[str, Field(strict=True, max_length=256)]


class ForgotIn(_Body):
    model_config = _example(email="ada@example.com")

    email: Email


class ResetIn(_Body):
    model_config = _example(token="<the token from the #reset= link>", new_password="a-new-long-passphrase-7")

    token: LinkToken
    new_password: NewPassword


class LinkIn(_Body):
    model_config = _example(token="<the token from the link>")

    token: LinkToken


class ResendIn(_OptionalBody):
    """Without an access token, the address to send a new verification link to."""

    model_config = _example(email="ada@example.com")

    email: Email | None = None


class EmailChangeIn(_Body):
    model_config = _example(new_email="ada@new.example.com", current_password="correct-horse-battery")

    new_email: Email
    current_password: StrictStr


class MessageOut(BaseModel):
    message: str


# The second factor (API.md section 7). Codes are short strings; anything absurd is a validation error,
# anything else that is no valid code the service's 401 invalid_code.
Code = Annotated[str, Field(strict=True, min_length=1, max_length=64)]


class MfaPendingOut(BaseModel):
    """The login answer for a user with a second factor: no tokens yet."""

    model_config = _example(mfa_required=True, mfa_token="<opaque>", methods=["totp", "recovery_code"])

    mfa_required: Literal[True] = True
    mfa_token: str
    methods: list[str]


class LoginAnswer(RootModel[LoginOut | MfaPendingOut]):
    """The login answer: tokens, or for a user with a second factor the ``mfa_token`` that
    ``POST /api/auth/mfa/verify`` takes with a code."""


class MfaVerifyIn(_Body):
    model_config = _example(mfa_token="<from the login answer>", code="123456")

    # Any string up to a token's length: whatever is no live mfa_token (an access token too) is 401.
    mfa_token: Annotated[str, Field(strict=True, min_length=1, max_length=4096)]
    code: Code


class CurrentPassword(_Body):
    model_config = _example(current_password="correct-horse-battery")

    current_password: StrictStr


class CodeIn(_Body):
    """A code of the second factor: six digits from the authenticator, or a recovery code."""

    model_config = _example(code="123456")

    code: Code


class EnrolmentOut(BaseModel):
    secret: str = Field(description="The TOTP secret (base32), for typing into an authenticator app")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as an inline SVG QR code")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Ten single-use codes, shown this once: store them safely")
