"""``AuthsvcError``: every answer of authsvc that is not 2xx, as one exception with a machine code.

authsvc answers errors as ``{"detail": "...", "code": "..."}`` (API.md section 2), but the section 1
endpoints keep the bodies of the libraries they replace, byte for byte, and those carry no code
(``{"detail": ...}`` or ``{"msg": ...}``); the health check answers ``{"status", "message"}``. The
parser reads all of them, so a caller branches on ``code`` whichever endpoint failed.
"""

from __future__ import annotations

from typing import Any

import httpx

# What a codeless body means, by status: the codes authsvc's own error shape would have used.
STATUS_CODES: dict[int, str] = {
    400: "validation_error",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "database_unavailable",
}

# Section 1's fixed bodies, each mapped to the code the same refusal has in section 2.
COMPAT_CODES: dict[str, str] = {
    "Invalid username or password": "invalid_credentials",
    "Missing Authorization Header": "missing_token",
    "Invalid username or password.": "invalid_token",
    "Token is invalid or expired": "invalid_token",
}


class AuthsvcError(Exception):
    """authsvc refused a request (or a token flow failed): ``status``, ``code`` and ``detail``.

    ``errors`` holds a validation error's ``[{"loc": [...], "msg": ...}]``; ``body`` the parsed JSON
    (or ``None``) for anything else a caller may need, such as ``retry_after``.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        body: Any = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or []
        self.body = body
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"AuthsvcError(status={self.status}, code={self.code!r}, detail={self.detail!r})"


class MfaRequired(AuthsvcError):
    """The password was right, and the account has a second factor: no tokens yet (API.md section 7).

    authsvc answers the sign-in with 200 ``{"mfa_required": true, "mfa_token", "methods"}``; the
    client raises it as 401 ``mfa_required``, since the caller is not signed in. Send a code of one of
    ``methods`` with ``mfa_token`` (``Authsvc.verify_mfa``, ``AuthsvcAuth.sign_in_with_code``) within
    5 minutes to finish the sign-in.
    """

    def __init__(self, mfa_token: str, methods: list[str], *, body: Any = None) -> None:
        super().__init__(401, "mfa_required", "A second factor is required.", body=body)
        self.mfa_token = mfa_token
        self.methods = methods


def mfa_required(body: Any) -> MfaRequired | None:
    """The ``MfaRequired`` of a sign-in answer that asks for a second factor; ``None`` for tokens."""
    if not isinstance(body, dict) or body.get("mfa_required") is not True:
        return None
    methods = body.get("methods")
    return MfaRequired(
        str(body["mfa_token"]), [str(m) for m in methods] if isinstance(methods, list) else [], body=body
    )


def error_from_response(response: httpx.Response) -> AuthsvcError:
    """The ``AuthsvcError`` of a non-2xx answer, whichever of authsvc's error bodies it carries.

    The body must have been read (``response.read()`` or a non-streaming request).
    """
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:  # not JSON at all: a proxy's page, an empty body
        body = None
    detail = response.reason_phrase or "HTTP error"
    code = STATUS_CODES.get(status, f"http_{status}")
    errors: list[dict[str, Any]] | None = None
    if isinstance(body, dict):
        text = body.get("detail", body.get("msg", body.get("message")))
        if isinstance(text, str):
            detail = text
            code = COMPAT_CODES.get(text, code)
        if isinstance(body.get("code"), str):
            code = body["code"]
        if isinstance(body.get("errors"), list):
            errors = body["errors"]
    return AuthsvcError(
        status, code, detail, errors=errors, body=body, retry_after=response.headers.get("Retry-After")
    )


def raise_for_error(response: httpx.Response) -> httpx.Response:
    """The response itself when it is 2xx; otherwise its ``AuthsvcError``."""
    if not response.is_success:
        raise error_from_response(response)
    return response
