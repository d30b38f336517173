"""``AuthsvcAuth``: an ``httpx.Auth`` that signs in, refreshes and retries, one refresh at a time.

authsvc rotates refresh tokens and treats a spent one presented again as theft (the whole session
is revoked). So a client shared by many threads or tasks must refresh once for all of them, never
once per request: renewals are single flight (a ``threading.Lock`` for the sync flow, an
``asyncio.Lock`` per event loop for the async one), and a refresh token is forgotten the moment it
is sent, whatever comes back, so it can never be presented twice.

An account with a second factor cannot be signed in with a password alone: the sign-in raises
``MfaRequired`` (code ``mfa_required``, with ``mfa_token`` and ``methods``), and
``sign_in_with_code`` (``asign_in_with_code``) finishes it with a code and keeps the pair.

The token requests go through the caller's own client (they are yielded by the auth flow, as httpx
intends), so its transport, proxies, timeouts and event hooks apply to them too.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import replace
from typing import Any

import httpx

from authsvc_client.errors import AuthsvcError, error_from_response, mfa_required
from authsvc_client.models import Scope, TokenPair
from authsvc_client.tokens import Held, hold, unverified_claims

Flow = Generator[httpx.Request, httpx.Response, str]


class AuthsvcAuth(httpx.Auth):
    """Bearer auth for authsvc's tokens, for ``httpx.Client`` and ``httpx.AsyncClient`` alike.

    Signs in lazily with ``username`` and ``password`` (or starts from ``access_token`` and
    ``refresh_token``); refreshes ``refresh_margin`` seconds (at most a tenth of the lifetime) before
    the access token ends, and once after a 401; signs in again when the refresh token is dead.
    ``sign_ins`` and ``refreshes`` count what it did. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        refresh_margin: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username, self._password = username, password
        self._margin, self._clock = refresh_margin, clock
        self._held: Held | None = None
        if access_token is not None:
            self._held = hold(access_token, refresh_token, sent_at=None, now=clock(), margin=refresh_margin)
        self._state = threading.Lock()  # guards _held and the counters; never held across a request
        self._renewing = threading.Lock()  # single flight for threads (held across the token request)
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.sign_ins = 0
        self.refreshes = 0

    # -- what callers may read -------------------------------------------------------------------
    @property
    def access_token(self) -> str | None:
        held = self._held
        return held.access if held else None

    @property
    def session_id(self) -> str | None:
        """The ``sid`` of the current access token (read, not verified): which session this is."""
        sid = unverified_claims(self.access_token or "").get("sid")
        return sid if isinstance(sid, str) else None

    # -- the httpx flows -------------------------------------------------------------------------
    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        refused: str | None = None
        for attempt in range(2):
            access = self._pick(refused)
            if access is None:
                with self._renewing:
                    access = self._pick(refused)
                    if access is None:
                        flow = self._renew()
                        try:
                            step = next(flow)
                            while True:
                                reply = yield step
                                reply.read()
                                step = flow.send(reply)
                        except StopIteration as done:
                            access = done.value
            request.headers["Authorization"] = f"Bearer {access}"
            response = yield request
            if not self._retry(response, request, attempt):
                return
            refused = access

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        refused: str | None = None
        for attempt in range(2):
            access = self._pick(refused)
            if access is None:
                async with self._loop_lock():
                    access = self._pick(refused)
                    if access is None:
                        flow = self._renew()
                        try:
                            step = next(flow)
                            while True:
                                reply = yield step
                                await reply.aread()
                                step = flow.send(reply)
                        except StopIteration as done:
                            access = done.value
            request.headers["Authorization"] = f"Bearer {access}"
            response = yield request
            if not self._retry(response, request, attempt):
                return
            refused = access

    # -- the second factor ------------------------------------------------------------------------
    def sign_in_with_code(self, mfa_token: str, code: str, *, client: httpx.Client | None = None) -> None:
        """Finish the sign-in an ``MfaRequired`` started, with a TOTP or recovery code; keep the pair
        (``aal`` 2) as a sign-in would. A wrong code raises ``AuthsvcError`` 401 ``invalid_code``.

        When this session's refresh token dies, the next sign-in with the password asks for a code
        again (``MfaRequired``).
        """
        with self._renewing, _client(client) as sender:
            _drive(self._verify_code(mfa_token, code), sender)

    async def asign_in_with_code(
        self, mfa_token: str, code: str, *, client: httpx.AsyncClient | None = None
    ) -> None:
        """``sign_in_with_code`` for async code."""
        async with self._loop_lock():
            await _adrive(self._verify_code(mfa_token, code), client)

    # -- signing out -----------------------------------------------------------------------------
    def logout(self, scope: Scope = "local", *, client: httpx.Client | None = None) -> None:
        """End the session (``scope``: local, global or others) and forget the tokens.

        The next request through this auth signs in again (when it has a password).
        """
        with self._renewing, _client(client) as sender:
            _drive(self._logout(scope), sender)

    async def alogout(self, scope: Scope = "local", *, client: httpx.AsyncClient | None = None) -> None:
        """``logout`` for async code."""
        async with self._loop_lock():
            await _adrive(self._logout(scope), client)

    close = logout

    # -- the state machine, shared by both flows (no I/O of its own) -----------------------------
    def _pick(self, refused: str | None) -> str | None:
        """The access token to send now, or ``None`` when one must be got first."""
        with self._state:
            held = self._held
            if held is None or held.access == refused:
                return None
            if self._clock() < held.refresh_at or not self._renewable(held):
                return held.access  # fresh; or stale with nothing to renew it with: the server decides
            return None

    def _renewable(self, held: Held | None) -> bool:
        return (held is not None and held.refresh is not None) or self._password is not None

    def _retry(self, response: httpx.Response, request: httpx.Request, attempt: int) -> bool:
        """Retry once after a 401, when there is a way to another token and the body can be resent."""
        if response.status_code != 401 or attempt > 0 or not isinstance(request.stream, httpx.ByteStream):
            return False
        with self._state:
            return self._renewable(self._held)

    def _renew(self) -> Flow:
        """Refresh (the refresh token is spent on sending), else sign in; returns the access token."""
        with self._state:
            held = self._held
            refresh = held.refresh if held else None
            if held is not None:
                self._held = replace(held, refresh=None)
        if refresh is not None:
            sent = self._clock()
            reply = yield self._token_request(
                "/api/auth/refresh", headers={"Authorization": f"Bearer {refresh}"}
            )
            if reply.is_success:
                return self._keep(reply, sent, refreshed=True)
            if self._password is None:
                with self._state:
                    self._held = None
                raise error_from_response(reply)
        if self._username is None or self._password is None:
            raise AuthsvcError(
                401, "invalid_token", "No live refresh token, and no password to sign in with."
            )
        sent = self._clock()
        body = {"username": self._username, "password": self._password}
        reply = yield self._token_request("/api/auth/login", json=body)
        if not reply.is_success:
            raise error_from_response(reply)
        pending = mfa_required(reply.json())
        if pending is not None:
            raise pending
        return self._keep(reply, sent, refreshed=False)

    def _verify_code(self, mfa_token: str, code: str) -> Generator[httpx.Request, httpx.Response, None]:
        sent = self._clock()
        reply = yield self._token_request("/api/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})
        if not reply.is_success:
            raise error_from_response(reply)
        self._keep(reply, sent, refreshed=False)

    def _logout(self, scope: Scope) -> Generator[httpx.Request, httpx.Response, None]:
        with self._state:
            held, self._held = self._held, None
        if held is None:
            return
        access = held.access
        if self._clock() >= held.expires_at and held.refresh is not None:
            # An expired access token cannot sign out; a refresh gives a live one (and is spent).
            reply = yield self._token_request(
                "/api/auth/refresh", headers={"Authorization": f"Bearer {held.refresh}"}
            )
            if not reply.is_success:
                return  # the refresh token is dead, and so is the session
            access = TokenPair.from_json(reply.json()).access_token
        reply = yield httpx.Request(
            "POST",
            f"{self.base_url}/api/auth/logout",
            params={"scope": scope},
            headers={"Authorization": f"Bearer {access}"},
        )
        if not reply.is_success and reply.status_code != 401:  # 401: that session had already ended
            raise error_from_response(reply)

    def _token_request(self, path: str, **kwargs: Any) -> httpx.Request:
        return httpx.Request("POST", f"{self.base_url}{path}", **kwargs)

    def _keep(self, reply: httpx.Response, sent: float, *, refreshed: bool) -> str:
        pair = TokenPair.from_json(reply.json())
        held = hold(
            pair.access_token, pair.refresh_token, sent_at=sent, now=self._clock(), margin=self._margin
        )
        with self._state:
            self._held = held
            if refreshed:
                self.refreshes += 1
            else:
                self.sign_ins += 1
        return held.access

    def _loop_lock(self) -> asyncio.Lock:
        """This event loop's lock: an ``asyncio.Lock`` belongs to one loop."""
        loop = asyncio.get_running_loop()
        with self._state:
            lock = self._loop_locks.get(loop)
            if lock is None:
                lock = self._loop_locks[loop] = asyncio.Lock()
            return lock


def _drive(flow: Generator[httpx.Request, httpx.Response, Any], sender: httpx.Client) -> None:
    """Send each request ``flow`` yields (outside any auth), answering it with the response."""
    try:
        step = next(flow)
        while True:
            step = flow.send(sender.send(step, auth=None))
    except StopIteration:
        pass


async def _adrive(
    flow: Generator[httpx.Request, httpx.Response, Any], client: httpx.AsyncClient | None
) -> None:
    """``_drive`` for async code, through ``client`` or a new one closed afterwards."""
    sender = client or httpx.AsyncClient()
    try:
        step = next(flow)
        while True:
            step = flow.send(await sender.send(step, auth=None))
    except StopIteration:
        pass
    finally:
        if client is None:
            await sender.aclose()


class _client:
    """The caller's client as is, or a new one closed afterwards."""

    def __init__(self, client: httpx.Client | None) -> None:
        self._given, self._client = client, client or httpx.Client()

    def __enter__(self) -> httpx.Client:
        return self._client

    def __exit__(self, *exc: object) -> None:
        if self._given is None:
            self._client.close()
