"""AuthsvcAuth's rules where a real server cannot be made to misbehave on cue: a scripted transport
stands in for authsvc (the real-server tests are in test_auth_refresh.py)."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest

from authsvc_client import AuthsvcAuth, AuthsvcError
from authsvc_client.tokens import hold

BASE = "http://authsvc.test"


def token(kind: str, serial: int, *, lifetime: int = 900, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"type": kind, "n": serial, "sid": "s1", "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


class FakeAuthsvc:
    """Answers sign-in, refresh and one resource; records every refresh token presented."""

    def __init__(self, refresh_status: int = 200) -> None:
        self.refresh_status = refresh_status
        self.presented: list[str] = []
        self.serial = 0
        self.sign_ins = 0
        self.refused: set[str] = set()

    def pair(self) -> httpx.Response:
        self.serial += 1
        body = {"access_token": token("access", self.serial), "refresh_token": token("refresh", self.serial)}
        return httpx.Response(200, json={**body, "token_type": "Bearer", "expires_in": 900})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if request.url.path == "/api/auth/login":
            self.sign_ins += 1
            if json.loads(request.content)["password"] != "pw":
                return httpx.Response(
                    401, json={"detail": "Invalid username or password.", "code": "invalid_credentials"}
                )
            return self.pair()
        if request.url.path == "/api/auth/refresh":
            self.presented.append(bearer)
            if self.refresh_status != 200:
                return httpx.Response(self.refresh_status, json={"detail": "no", "code": "internal_error"})
            return self.pair()
        if bearer in self.refused:
            return httpx.Response(401, json={"detail": "revoked", "code": "invalid_token"})
        return httpx.Response(200, json={"ok": True})


def client_for(server: FakeAuthsvc, auth: AuthsvcAuth) -> httpx.Client:
    return httpx.Client(base_url=BASE, auth=auth, transport=httpx.MockTransport(server))


def test_a_refresh_token_is_never_presented_twice_even_when_its_refresh_fails() -> None:
    server = FakeAuthsvc(refresh_status=500)
    auth = AuthsvcAuth(BASE, "ada", "pw")
    with client_for(server, auth) as client:
        client.get("/r")
        for _ in range(3):  # each time: the access token refused, the refresh fails, a new sign-in
            server.refused.add(auth.access_token or "")
            assert client.get("/r").status_code == 200
    assert len(server.presented) == len(set(server.presented)) == 3
    assert server.sign_ins == 4


def test_a_401_after_someone_else_refreshed_retries_without_refreshing_again() -> None:
    server = FakeAuthsvc()
    auth = AuthsvcAuth(BASE, "ada", "pw")
    with client_for(server, auth) as client:
        client.get("/r")
        first = auth.access_token
        slow = auth.sync_auth_flow(client.build_request("GET", "/r"))  # a request in flight with it
        assert next(slow).headers["Authorization"] == f"Bearer {first}"
        server.refused.add(first or "")
        assert client.get("/r").status_code == 200  # meanwhile another caller refreshed
        retry = slow.send(httpx.Response(401))  # the slow one's answer arrives: 401
        assert retry.headers["Authorization"] == f"Bearer {auth.access_token}" != f"Bearer {first}"
    assert len(server.presented) == 1  # one refresh for both


def test_the_retry_after_a_401_happens_once() -> None:
    server = FakeAuthsvc()
    auth = AuthsvcAuth(BASE, "ada", "pw")

    def always_refused(request: httpx.Request) -> httpx.Response:
        answer = server(request)
        return answer if request.url.path.startswith("/api/auth") else httpx.Response(401)

    with httpx.Client(base_url=BASE, auth=auth, transport=httpx.MockTransport(always_refused)) as client:
        response = client.get("/r")
    assert response.status_code == 401
    assert [r.request.url.path for r in response.history] == ["/api/auth/login", "/r", "/api/auth/refresh"]


def test_a_wrong_password_is_an_authsvc_error() -> None:
    with (
        client_for(FakeAuthsvc(), AuthsvcAuth(BASE, "ada", "wrong")) as client,
        pytest.raises(AuthsvcError) as error,
    ):
        client.get("/r")
    assert (error.value.status, error.value.code) == (401, "invalid_credentials")


@pytest.mark.parametrize(
    ("lifetime", "margin", "refresh_after"),
    [(900, 30.0, 869.0), (2, 30.0, 0.8), (60, 30.0, 53.0), (900, 5.0, 894.0)],
)
def test_refresh_timing_counts_the_lifetime_from_the_request_not_the_clocks(
    lifetime: int, margin: float, refresh_after: float
) -> None:
    """The server's clock is an hour ahead: timing by ``exp`` alone would wait an hour too long."""
    sent = 1_000_000.0
    access = token("access", 1, lifetime=lifetime, now=sent + 3600)
    held = hold(access, "r", sent_at=sent, now=sent, margin=margin)
    assert held.refresh_at - sent == pytest.approx(refresh_after)
    assert held.expires_at - sent == pytest.approx(lifetime - 1)  # iat is written in whole seconds
