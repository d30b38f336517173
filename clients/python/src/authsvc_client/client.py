"""``Authsvc``: a typed client of authsvc's API as it stands (API.md sections 1, 2 and 5).

One method per endpoint, grouped as the API is; each returns a dataclass from ``models`` and raises
``AuthsvcError`` on any answer that is not 2xx. Methods that need a signed-in caller take
``token=`` (an access token) or use the client's ``auth`` (say an ``AuthsvcAuth``). Of section 7
(second factor) it has the two-step sign-in: ``login`` raises ``MfaRequired`` for an account with a
second factor, and ``verify_mfa`` finishes it with a code.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Literal

import httpx

from authsvc_client.errors import mfa_required, raise_for_error
from authsvc_client.models import (
    CompatPair,
    Discovery,
    Health,
    Introspection,
    LogoutResult,
    PublicUser,
    Scope,
    Session,
    TokenPair,
    User,
    UserPage,
)

Role = Literal["user", "admin"]


class Authsvc:
    """The API of the authsvc at ``base_url``; ``client`` (an ``httpx.Client``) or one of its own."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._owned = client is None
        self._http = client or httpx.Client(timeout=timeout)
        self._auth = auth

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> Authsvc:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        signed: bool = True,
        basic: tuple[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One request; its JSON body (``None`` for 204), or the ``AuthsvcError`` of its answer.

        ``token`` wins over the client's ``auth``; ``signed=False`` sends neither (sign-in, health).
        """
        headers = dict(kwargs.pop("headers", {}))
        auth: httpx.Auth | None = None
        if basic is not None:
            auth = httpx.BasicAuth(*basic)
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif signed and self._auth is not None:
            auth = self._auth
        response = raise_for_error(
            self._http.request(method, f"{self.base_url}{path}", headers=headers, auth=auth, **kwargs)
        )
        return None if response.status_code == 204 or not response.content else response.json()

    # -- section 2: accounts, tokens, sessions -------------------------------------------------
    def register(self, username: str, email: str, password: str) -> User:
        body = {"username": username, "email": email, "password": password}
        return User.from_json(self._call("POST", "/api/auth/register", json=body, signed=False))

    def login(self, username: str, password: str) -> TokenPair:
        """A new session's pair; ``MfaRequired`` (code ``mfa_required``, with ``mfa_token`` and
        ``methods``) when the account has a second factor: then ``verify_mfa``."""
        body = {"username": username, "password": password}
        answer = self._call("POST", "/api/auth/login", json=body, signed=False)
        pending = mfa_required(answer)
        if pending is not None:
            raise pending
        return TokenPair.from_json(answer)

    def verify_mfa(self, mfa_token: str, code: str) -> TokenPair:
        """Finish a sign-in with a TOTP or recovery code: the pair, ``aal`` 2. A wrong code is 401
        ``invalid_code`` (the fifth voids ``mfa_token``); a dead ``mfa_token`` 401 ``invalid_token``."""
        body = {"mfa_token": mfa_token, "code": code}
        return TokenPair.from_json(self._call("POST", "/api/auth/mfa/verify", json=body, signed=False))

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate ``refresh_token``: it is spent, whatever happens next; keep the new pair."""
        return TokenPair.from_json(self._call("POST", "/api/auth/refresh", token=refresh_token))

    def whoami(self, *, token: str | None = None) -> User:
        return User.from_json(self._call("GET", "/api/auth/whoami", token=token))

    def logout(self, scope: Scope = "local", *, token: str | None = None) -> LogoutResult:
        return LogoutResult.from_json(
            self._call("POST", "/api/auth/logout", token=token, params={"scope": scope})
        )

    def sessions(self, *, token: str | None = None) -> list[Session]:
        return [Session.from_json(item) for item in self._call("GET", "/api/auth/sessions", token=token)]

    def end_session(self, session_id: str, *, token: str | None = None) -> None:
        self._call("DELETE", f"/api/auth/sessions/{session_id}", token=token)

    def change_password(
        self, current_password: str, new_password: str, *, token: str | None = None
    ) -> TokenPair:
        """Every earlier session ends (this one too): the answer is the new session's pair."""
        body = {"current_password": current_password, "new_password": new_password}
        return TokenPair.from_json(self._call("POST", "/api/auth/password", token=token, json=body))

    # -- section 2: users ----------------------------------------------------------------------
    def users(
        self,
        *,
        page: int = 1,
        per_page: int = 5,
        q: str | None = None,
        role: Role | None = None,
        is_active: bool | None = None,
        sort: str = "id",
        token: str | None = None,
    ) -> UserPage:
        """One page of users (admins only)."""
        params: dict[str, Any] = {"page": page, "per_page": per_page, "sort": sort}
        if q is not None:
            params["q"] = q
        if role is not None:
            params["role"] = role
        if is_active is not None:
            params["is_active"] = "true" if is_active else "false"
        return UserPage.from_json(self._call("GET", "/api/users/all", token=token, params=params))

    def user(self, user_id: int, *, token: str | None = None) -> User:
        return User.from_json(self._call("GET", f"/api/users/{user_id}", token=token))

    def create_user(
        self, username: str, email: str, password: str, *, role: Role = "user", token: str | None = None
    ) -> User:
        """An admin creates an account (works with registration closed)."""
        body = {"username": username, "email": email, "password": password, "role": role}
        return User.from_json(self._call("POST", "/api/users", token=token, json=body))

    def update_user(
        self,
        user_id: int,
        *,
        role: Role | None = None,
        is_active: bool | None = None,
        email: str | None = None,
        token: str | None = None,
    ) -> User:
        """An admin changes a role, the activation or the email; absent arguments stay as they are."""
        changes = {"role": role, "is_active": is_active, "email": email}
        body = {name: value for name, value in changes.items() if value is not None}
        return User.from_json(self._call("PATCH", f"/api/users/{user_id}", token=token, json=body))

    def delete_user(
        self, user_id: int, *, current_password: str | None = None, token: str | None = None
    ) -> None:
        """An admin deletes anyone; a user deletes their own account with ``current_password``."""
        body = {} if current_password is None else {"current_password": current_password}
        self._call("DELETE", f"/api/users/{user_id}", token=token, json=body)

    # -- section 1: the compatibility endpoints ------------------------------------------------
    def compat_token(self, username: str, password: str) -> CompatPair:
        body = {"username": username, "password": password}
        return CompatPair.from_json(self._call("POST", "/token/", json=body, signed=False))

    def compat_refresh(self, refresh: str) -> CompatPair:
        return CompatPair.from_json(
            self._call("POST", "/token/refresh/", json={"refresh": refresh}, signed=False)
        )

    def compat_list(self, *, token: str | None = None) -> list[User | PublicUser]:
        """``GET /list/``: whole records for an admin, the public part for anyone else."""
        items = self._call("GET", "/list/", token=token)
        return [User.from_json(item) if "role" in item else PublicUser.from_json(item) for item in items]

    # -- section 5 and the rest: for other services ---------------------------------------------
    def health(self) -> Health:
        return Health.from_json(self._call("GET", "/health", signed=False))

    def jwks(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/.well-known/jwks.json", signed=False)
        return result

    def discovery(self) -> Discovery:
        return Discovery.from_json(self._call("GET", "/.well-known/openid-configuration", signed=False))

    def introspect(
        self, token: str, *, client_id: str, client_secret: str, token_type_hint: str | None = None
    ) -> Introspection:
        """RFC 7662 with a service client's credentials (HTTP Basic): is ``token`` live now?"""
        form = (
            {"token": token}
            if token_type_hint is None
            else {"token": token, "token_type_hint": token_type_hint}
        )
        body = self._call(
            "POST", "/api/auth/introspect", signed=False, data=form, basic=(client_id, client_secret)
        )
        return Introspection.from_json(body)
