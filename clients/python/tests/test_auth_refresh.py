"""AuthsvcAuth against a real authsvc whose access tokens live 2 seconds.

Many threads (and tasks) share one auth across several expiries: each expiry must cost exactly one
refresh, because authsvc revokes a session whose spent refresh token comes back.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from authsvc_client import Authsvc, AuthsvcAuth, AuthsvcError, InvalidToken, TokenVerifier
from authsvc_client.pytest_plugin import AuthsvcUser
from authsvc_client.testing import AuthsvcServer, running_authsvc

WORKERS = 50
ROUNDS = 12
# Every round, all 50 ask at once (so those that meet an expiring token all want the refresh at the
# same moment); the pause keeps the server's queue, and so each request's time in flight, far below
# the tokens' two seconds on a small, busy machine (an unbounded flood would have requests outlive
# even a fresh token). 12 rounds take 4 s or more: at least three refreshes.
PAUSE = 0.3


@pytest.fixture(scope="module")
def authsvc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthsvcServer]:
    """This module's own server (authsvc_user follows it): two-second access tokens, no reuse grace."""
    workdir: Path = tmp_path_factory.mktemp("short-tokens")
    with running_authsvc(
        workdir, FLASK_JWT_ACCESS_TOKEN_EXPIRES="2", FLASK_JWT_REFRESH_REUSE_INTERVAL="0", threads=16
    ) as server:
        yield server


def access_tokens_sent(response: httpx.Response) -> set[str]:
    """The access tokens this call sent: its final request's, and a first try's that met a 401
    (``history`` also holds the refresh or sign-in the auth made in between, which are left out)."""
    requests = [*(earlier.request for earlier in response.history), response.request]
    return {r.headers["Authorization"] for r in requests if r.url.path == "/api/auth/whoami"}


def assert_one_refresh_per_expiry(
    server: AuthsvcServer, auth: AuthsvcAuth, tokens: set[str], sid: str
) -> None:
    """The server's audit log: as many refreshes of this session as access tokens were replaced, and
    no refresh token ever seen twice (no reuse, no revoked session)."""
    refreshes = [e for e in server.audit_events("refresh") if e["session_id"] == sid]
    assert all(e["outcome"] == "success" for e in refreshes), refreshes
    assert len(refreshes) == auth.refreshes == len(tokens) - 1, (len(refreshes), auth.refreshes, len(tokens))
    assert auth.refreshes >= 2, "the run did not cross two expiries"
    assert auth.sign_ins == 1
    assert not [e for e in server.audit_events("refresh_reuse") if e["session_id"] == sid]


def test_fifty_threads_share_one_refresh_per_expiry(
    authsvc_server: AuthsvcServer, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    user = authsvc_user()
    auth = AuthsvcAuth(authsvc_server.base_url, user.username, user.password)
    statuses: list[int] = []
    tokens: set[str] = set()
    record = threading.Lock()
    # A connection each request: a round can outlast gunicorn's 5 s keep-alive on a loaded machine,
    # and a kept connection the server closed just as a thread reused it was reset (seen once in CI).
    limits = httpx.Limits(max_connections=WORKERS, max_keepalive_connections=0)
    with httpx.Client(base_url=authsvc_server.base_url, auth=auth, timeout=30, limits=limits) as client:
        barrier = threading.Barrier(WORKERS, action=lambda: time.sleep(PAUSE))

        def work() -> None:
            for _ in range(ROUNDS):
                barrier.wait(timeout=60)
                response = client.get("/api/auth/whoami")
                with record:
                    statuses.append(response.status_code)
                    tokens.update(access_tokens_sent(response))

        threads = [threading.Thread(target=work) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert statuses and set(statuses) == {200}, sorted(set(statuses))
        sid = auth.session_id
        assert sid is not None
        final = client.get("/api/auth/whoami")
        assert final.status_code == 200  # the session is alive
        tokens.update(access_tokens_sent(final))
        assert_one_refresh_per_expiry(authsvc_server, auth, tokens, sid)


def test_fifty_tasks_share_one_refresh_per_expiry(
    authsvc_server: AuthsvcServer, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    user = authsvc_user()
    auth = AuthsvcAuth(authsvc_server.base_url, user.username, user.password)
    statuses: list[int] = []
    tokens: set[str] = set()

    async def main() -> None:
        limits = httpx.Limits(max_connections=WORKERS)
        async with httpx.AsyncClient(
            base_url=authsvc_server.base_url, auth=auth, timeout=30, limits=limits
        ) as client:

            async def ask() -> None:
                response = await client.get("/api/auth/whoami")
                statuses.append(response.status_code)
                tokens.update(access_tokens_sent(response))

            for _ in range(ROUNDS):
                await asyncio.sleep(PAUSE)
                await asyncio.gather(*(ask() for _ in range(WORKERS)))
            final = await client.get("/api/auth/whoami")
            assert final.status_code == 200
            tokens.update(access_tokens_sent(final))

    asyncio.run(main())
    assert statuses and set(statuses) == {200}, sorted(set(statuses))
    sid = auth.session_id
    assert sid is not None
    assert_one_refresh_per_expiry(authsvc_server, auth, tokens, sid)


def test_signs_in_again_after_a_global_logout_elsewhere(
    authsvc_server: AuthsvcServer, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    user = authsvc_user()
    first_session = user.auth.session_id
    with Authsvc(authsvc_server.base_url) as api:
        other = api.login(user.username, user.password)
        assert api.logout("global", token=other.access_token).revoked_sessions == 2

    response = user.client.get("/api/auth/whoami")  # 401, the refresh fails, a new sign-in, the retry

    assert response.status_code == 200
    assert user.auth.sign_ins == 2
    assert user.auth.session_id not in {None, first_session}
    assert [r.status_code for r in response.history][0] == 401


def test_a_pair_without_password_raises_once_its_session_is_gone(
    authsvc_server: AuthsvcServer, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    user = authsvc_user()
    with Authsvc(authsvc_server.base_url) as api:
        pair = api.login(user.username, user.password)
        auth = AuthsvcAuth(
            authsvc_server.base_url, access_token=pair.access_token, refresh_token=pair.refresh_token
        )
        with httpx.Client(base_url=authsvc_server.base_url, auth=auth) as client:
            assert client.get("/api/auth/whoami").status_code == 200
            api.logout(token=pair.access_token)
            with pytest.raises(AuthsvcError) as refused:
                client.get("/api/auth/whoami")
    assert (refused.value.status, refused.value.code) == (401, "invalid_token")
    assert auth.access_token is None


def test_logout_ends_the_session_and_the_next_request_signs_in(
    authsvc_server: AuthsvcServer, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    user = authsvc_user()
    ended = user.auth.session_id
    user.auth.logout()
    assert user.auth.access_token is None
    assert [e for e in authsvc_server.audit_events("logout") if e["session_id"] == ended]

    assert user.client.get("/api/auth/whoami").status_code == 200
    assert user.auth.sign_ins == 2


def test_logout_after_expiry_refreshes_first_so_the_session_really_ends(
    authsvc_server: AuthsvcServer, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    user = authsvc_user()
    sid = user.auth.session_id
    refresh = user.auth._held.refresh if user.auth._held else None
    access = user.auth.access_token
    time.sleep(2.1)  # the access token has expired; the refresh token has not
    with TokenVerifier(authsvc_server.jwks_url, authsvc_server.issuer, authsvc_server.audience) as verifier:
        with pytest.raises(InvalidToken, match="expired"):  # on the real clock, against the live JWKS
            verifier.verify(access or "")
    user.auth.logout()
    assert [e for e in authsvc_server.audit_events("logout") if e["session_id"] == sid]
    with Authsvc(authsvc_server.base_url) as api, pytest.raises(AuthsvcError) as dead:
        api.refresh(refresh or "")
    assert dead.value.status == 401


def test_a_wrong_password_raises_invalid_credentials(authsvc_server: AuthsvcServer) -> None:
    auth = AuthsvcAuth(authsvc_server.base_url, "nobody-here", "not-the-password")
    with (
        httpx.Client(base_url=authsvc_server.base_url, auth=auth) as client,
        pytest.raises(AuthsvcError) as refused,
    ):
        client.get("/api/auth/whoami")
    assert (refused.value.status, refused.value.code) == (401, "invalid_credentials")
