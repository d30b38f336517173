"""Cookie mode for SPAs through the test client: cookies, the CSRF double submit, and its binding."""

from __future__ import annotations

import pytest

from authsvc.db import get_engine
from tests.conftest import assert_error, build_app, make_settings, unique_name
from tests.helpers import PASSWORD, bearer

# The tests run with FLASK_ENVIRONMENT=testing, so the cookies are Secure and
# carry the prefixed names (only plain-http localhost in development keeps the bare ones).
SECURE_REFRESH = "__Secure-refresh_token"
HOST_CSRF = "__Host-csrf_refresh_token"
NEW_PASSWORD = "an-even-longer-passphrase"


@pytest.fixture
def signed_in(client, make_user):
    user = make_user()
    response = client.post(
        "/api/auth/login", json={"username": user.username, "password": PASSWORD, "cookie": True}
    )
    assert response.status_code == 200
    return response


def cookie(client, name, path="/"):
    return client.get_cookie(name, path=path)


def refresh_with(client, csrf):
    return client.post("/api/auth/refresh", headers={"X-CSRF-Token": csrf} if csrf is not None else {})


def test_login_in_cookie_mode_keeps_the_refresh_token_out_of_the_body(client, signed_in):
    body = signed_in.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    set_cookies = signed_in.headers.getlist("Set-Cookie")
    refresh = next(line for line in set_cookies if line.startswith(SECURE_REFRESH + "="))
    assert "HttpOnly" in refresh and "SameSite=Strict" in refresh and "Path=/api/auth" in refresh
    csrf = next(line for line in set_cookies if line.startswith(HOST_CSRF + "="))
    assert "HttpOnly" not in csrf


def test_refresh_by_cookie_with_the_csrf_value_rotates_the_cookies(client, signed_in):
    old_refresh = cookie(client, SECURE_REFRESH, "/api/auth").value
    response = refresh_with(client, cookie(client, HOST_CSRF).value)
    assert response.status_code == 200
    assert "refresh_token" not in response.get_json()
    assert cookie(client, SECURE_REFRESH, "/api/auth").value != old_refresh


@pytest.mark.parametrize("csrf", [None, "", "not-the-cookie"], ids=["no-header", "empty", "mismatch"])
def test_refresh_by_cookie_without_a_matching_header_is_refused_and_spends_nothing(client, signed_in, csrf):
    refresh_token = cookie(client, SECURE_REFRESH, "/api/auth").value
    assert_error(refresh_with(client, csrf), 403, "forbidden")
    assert client.post("/api/auth/refresh", headers=bearer(refresh_token)).status_code == 200


def test_a_planted_csrf_pair_does_not_match_the_token_and_spends_nothing(client, signed_in):
    """Cookie tossing: the attacker sets a CSRF cookie and sends the same value; it is not the one
    derived from the victim's refresh token, so the double submit alone does not pass."""
    refresh_token = cookie(client, SECURE_REFRESH, "/api/auth").value
    client.set_cookie(HOST_CSRF, "planted")
    assert_error(refresh_with(client, "planted"), 403, "forbidden")
    assert client.post("/api/auth/refresh", headers=bearer(refresh_token)).status_code == 200


def test_logout_clears_both_cookies(client, signed_in):
    response = client.post("/api/auth/logout", headers=bearer(signed_in.get_json()["access_token"]))
    assert response.status_code == 200
    assert cookie(client, SECURE_REFRESH, "/api/auth") is None
    assert cookie(client, HOST_CSRF) is None


# --- cookie tossing (issue 10, item 7) --------------------------------------------------------------


def test_secure_cookies_carry_the_host_and_secure_prefixes(signed_in):
    """A browser refuses a ``__Host-`` cookie from a sibling subdomain (it may not carry ``Domain``)
    and a ``__Secure-`` one from plain http, so the prefixes keep the cookies ours."""
    set_cookies = signed_in.headers.getlist("Set-Cookie")
    assert sorted(line.split("=", 1)[0] for line in set_cookies) == sorted([SECURE_REFRESH, HOST_CSRF])
    refresh = next(line for line in set_cookies if line.startswith(SECURE_REFRESH + "="))
    assert "Secure" in refresh and "HttpOnly" in refresh and "Path=/api/auth" in refresh
    csrf = next(line for line in set_cookies if line.startswith(HOST_CSRF + "="))
    assert "Secure" in csrf and "Path=/" in csrf.split("; ") and "Domain" not in csrf


def test_plain_http_localhost_in_development_keeps_the_unprefixed_names(tmp_path):
    """The one case without ``Secure`` (a browser would drop prefixed cookies there), documented."""
    app = build_app(make_settings(tmp_path, environment="development"))
    try:
        client = app.test_client()
        user = unique_name()
        assert (
            client.post(
                "/api/auth/register",
                json={"username": user, "email": f"{user}@example.com", "password": PASSWORD},
            ).status_code
            == 201
        )
        response = client.post(
            "/api/auth/login", json={"username": user, "password": PASSWORD, "cookie": True}
        )
        set_cookies = response.headers.getlist("Set-Cookie")
        assert sorted(line.split("=", 1)[0] for line in set_cookies) == [
            "csrf_refresh_token",
            "refresh_token",
        ]
        assert not any("Secure" in line for line in set_cookies)
        csrf = cookie(client, "csrf_refresh_token").value
        assert refresh_with(client, csrf).status_code == 200
    finally:
        get_engine(app).dispose()


def test_secure_request_never_reads_the_unprefixed_cookies(client, signed_in):
    """Anyone on a sibling subdomain (or plain http) can set ``refresh_token``; over https only the
    prefixed names count, so such a planted pair is not a session."""
    refresh_token = cookie(client, SECURE_REFRESH, "/api/auth").value
    csrf = cookie(client, HOST_CSRF).value
    client.delete_cookie(SECURE_REFRESH, path="/api/auth")
    client.delete_cookie(HOST_CSRF)
    client.set_cookie("refresh_token", refresh_token, path="/api/auth")
    client.set_cookie("csrf_refresh_token", csrf)
    assert_error(refresh_with(client, csrf), 401, "missing_token")
    assert client.post("/api/auth/refresh", headers=bearer(refresh_token)).status_code == 200


PLANT_PATHS = ("/api", "/api/auth/refresh")  # both sent with a refresh, beside the genuine cookie


@pytest.mark.parametrize("name", [SECURE_REFRESH, HOST_CSRF, "refresh_token", "csrf_refresh_token"])
def test_refresh_with_a_duplicated_cookie_is_refused_and_spends_nothing(client, signed_in, name):
    """A sibling subdomain can add cookies of our names (``Domain=``, a longer path); the browser
    sends them all, and we cannot tell which one is ours, so the request is refused. The genuine
    cookies come first, so without the check this refresh would succeed."""
    csrf = cookie(client, HOST_CSRF).value
    for path in PLANT_PATHS:
        client.set_cookie(name, "planted", path=path)
    body = assert_error(refresh_with(client, csrf), 403, "forbidden")
    assert name in body["detail"]
    for path in PLANT_PATHS:
        client.delete_cookie(name, path=path)
    # the control: the same request without the planted cookies passes, so nothing was spent
    assert refresh_with(client, csrf).status_code == 200


def test_refresh_by_bearer_with_a_duplicated_cookie_is_refused(client, signed_in):
    refresh_token = cookie(client, SECURE_REFRESH, "/api/auth").value
    client.set_cookie(SECURE_REFRESH, "planted", path="/api/auth/refresh")
    assert_error(client.post("/api/auth/refresh", headers=bearer(refresh_token)), 403, "forbidden")


def test_password_change_with_a_duplicated_cookie_is_refused_and_changes_nothing(client, make_user):
    user = make_user()
    response = client.post(
        "/api/auth/login", json={"username": user.username, "password": PASSWORD, "cookie": True}
    )
    access = response.get_json()["access_token"]
    client.set_cookie(SECURE_REFRESH, "planted", path="/api/auth/password")
    response = client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(access),
    )
    assert_error(response, 403, "forbidden")
    assert client.get("/api/auth/whoami", headers=bearer(access)).status_code == 200  # session kept
    fresh = client.application.test_client()
    login = {"username": user.username, "password": PASSWORD}
    assert fresh.post("/api/auth/login", json=login).status_code == 200  # password unchanged
