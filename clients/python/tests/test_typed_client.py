"""Authsvc, the typed client, against the session's server: typed answers, and AuthsvcError for
every refusal, section 1's codeless bodies included."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest

from authsvc_client import Authsvc, AuthsvcAuth, AuthsvcError, PublicUser, User
from authsvc_client.errors import error_from_response
from authsvc_client.pytest_plugin import AuthsvcUser
from authsvc_client.testing import AuthsvcServer


@pytest.fixture
def api(authsvc_server: AuthsvcServer) -> Iterator[Authsvc]:
    with Authsvc(authsvc_server.base_url) as made:
        yield made


def new_name() -> str:
    return f"t-{secrets.token_hex(4)}"


def test_register_login_whoami_refresh_sessions_logout(api: Authsvc) -> None:
    name, password = new_name(), secrets.token_urlsafe(16)
    user = api.register(name, f"{name}@Example.com", password)
    assert isinstance(user, User) and (user.username, user.email, user.role) == (
        name,
        f"{name}@example.com",
        "user",
    )
    pair = api.login(name, password)
    assert pair.token_type == "Bearer" and pair.expires_in == 900
    assert api.whoami(token=pair.access_token) == user
    rotated = api.refresh(pair.refresh_token or "")
    with pytest.raises(AuthsvcError) as spent:
        api.refresh(pair.refresh_token or "")  # presented twice: theft, the session is revoked
    assert (spent.value.status, spent.value.code) == (401, "invalid_token")
    with pytest.raises(AuthsvcError):
        api.whoami(token=rotated.access_token)
    second, third = api.login(name, password), api.login(name, password)
    sessions = api.sessions(token=second.access_token)
    assert len(sessions) == 2 and [s.current for s in sessions].count(True) == 1
    other = next(s for s in sessions if not s.current)
    api.end_session(other.id, token=second.access_token)
    with pytest.raises(AuthsvcError):
        api.whoami(token=third.access_token)
    assert api.logout(token=second.access_token).revoked_sessions == 1


def test_change_password_and_delete_own_account(api: Authsvc) -> None:
    name, password, new = new_name(), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    user = api.register(name, f"{name}@example.com", password)
    pair = api.change_password(password, new, token=api.login(name, password).access_token)
    assert api.whoami(token=pair.access_token).id == user.id
    with pytest.raises(AuthsvcError) as wrong:
        api.login(name, password)
    assert wrong.value.code == "invalid_credentials"
    api.delete_user(user.id, current_password=new, token=pair.access_token)
    with pytest.raises(AuthsvcError) as gone:
        api.whoami(token=pair.access_token)
    assert gone.value.status == 401


def test_admin_calls_through_an_authsvc_auth(
    authsvc_server: AuthsvcServer, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    admin = authsvc_user(admin=True)
    auth = AuthsvcAuth(authsvc_server.base_url, admin.username, admin.password)
    with Authsvc(authsvc_server.base_url, auth=auth) as api:
        made = api.create_user(
            new_name(), f"{new_name()}@example.com", secrets.token_urlsafe(16), role="admin"
        )
        assert made.role == "admin"
        assert api.update_user(made.id, role="user", is_active=False) == api.user(made.id)
        page = api.users(per_page=100, is_active=False)
        assert made.id in [u.id for u in page.items] and page.page == 1
        listed = api.compat_list()
        assert all(isinstance(item, User) for item in listed)
        api.delete_user(made.id)
        with pytest.raises(AuthsvcError) as missing:
            api.user(made.id)
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        with pytest.raises(AuthsvcError) as bad:
            api.users(per_page=1000)
        assert bad.value.code == "validation_error" and bad.value.errors


def test_section_one_answers_and_their_codeless_errors(
    api: Authsvc, authsvc_user: Callable[..., AuthsvcUser]
) -> None:
    ada = authsvc_user()
    pair = api.compat_token(ada.username, ada.password)
    rotated = api.compat_refresh(pair.refresh)
    listed = api.compat_list(token=rotated.access)
    assert all(isinstance(item, PublicUser) for item in listed)
    cases = [
        (lambda: api.compat_token(ada.username, "wrong-password"), "invalid_credentials"),
        (lambda: api.compat_refresh(pair.refresh), "invalid_token"),
        (lambda: api.compat_list(token="nonsense"), "invalid_token"),
    ]
    for call, code in cases:
        with pytest.raises(AuthsvcError) as refused:
            call()
        assert (refused.value.status, refused.value.code) == (401, code)
    with httpx.Client() as plain:
        missing = error_from_response(plain.get(f"{api.base_url}/list/"))
    assert (missing.code, missing.detail) == ("missing_token", "Missing Authorization Header")


def test_registration_conflicts_and_bad_input(api: Authsvc, authsvc_user: Callable[..., AuthsvcUser]) -> None:
    ada = authsvc_user()
    with pytest.raises(AuthsvcError) as taken:
        api.register(ada.username, "someone@example.com", secrets.token_urlsafe(16))
    assert (taken.value.status, taken.value.code) == (409, "username_taken")
    with pytest.raises(AuthsvcError) as invalid:
        api.register(new_name(), "not-an-email", "short")
    assert invalid.value.status == 400 and {tuple(e["loc"]) for e in invalid.value.errors} >= {
        ("body", "email")
    }


def test_health_keys_discovery_and_introspection(
    api: Authsvc,
    authsvc_server: AuthsvcServer,
    service_client: tuple[str, str],
    authsvc_user: Callable[..., AuthsvcUser],
) -> None:
    assert api.health().database == "ok"
    assert {key["alg"] for key in api.jwks()["keys"]} == {"ES256"}
    discovery = api.discovery()
    assert discovery.jwks_uri == authsvc_server.jwks_url
    assert discovery.introspection_endpoint == authsvc_server.introspection_url
    ada = authsvc_user()
    client_id, secret = service_client
    live = api.introspect(ada.auth.access_token or "", client_id=client_id, client_secret=secret)
    assert (live.active, live.username, live.role, live.token_type) == (True, ada.username, "user", "access")
    assert api.introspect("garbage", client_id=client_id, client_secret=secret).active is False
    with pytest.raises(AuthsvcError) as refused:
        api.introspect("garbage", client_id=client_id, client_secret="wrong")
    assert (refused.value.status, refused.value.code) == (401, "invalid_client")
