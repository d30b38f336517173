"""Cookie mode for SPAs through the test client: cookies, the CSRF double submit, and its binding."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, assert_error, bearer


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
    refresh = next(line for line in set_cookies if line.startswith("refresh_token="))
    assert "HttpOnly" in refresh and "SameSite=Strict" in refresh and "Path=/api/auth" in refresh
    csrf = next(line for line in set_cookies if line.startswith("csrf_refresh_token="))
    assert "HttpOnly" not in csrf


def test_refresh_by_cookie_with_the_csrf_value_rotates_the_cookies(client, signed_in):
    old_refresh = cookie(client, "refresh_token", "/api/auth").value
    response = refresh_with(client, cookie(client, "csrf_refresh_token").value)
    assert response.status_code == 200
    assert "refresh_token" not in response.get_json()
    assert cookie(client, "refresh_token", "/api/auth").value != old_refresh


@pytest.mark.parametrize("csrf", [None, "", "not-the-cookie"], ids=["no-header", "empty", "mismatch"])
def test_refresh_by_cookie_without_a_matching_header_is_refused_and_spends_nothing(client, signed_in, csrf):
    refresh_token = cookie(client, "refresh_token", "/api/auth").value
    assert_error(refresh_with(client, csrf), 403, "forbidden")
    assert client.post("/api/auth/refresh", headers=bearer(refresh_token)).status_code == 200


def test_a_planted_csrf_pair_does_not_match_the_token_and_spends_nothing(client, signed_in):
    """Cookie tossing: the attacker sets a CSRF cookie and sends the same value; it is not the one
    derived from the victim's refresh token, so the double submit alone does not pass."""
    refresh_token = cookie(client, "refresh_token", "/api/auth").value
    client.set_cookie("csrf_refresh_token", "planted")
    assert_error(refresh_with(client, "planted"), 403, "forbidden")
    assert client.post("/api/auth/refresh", headers=bearer(refresh_token)).status_code == 200


def test_logout_clears_both_cookies(client, signed_in):
    response = client.post("/api/auth/logout", headers=bearer(signed_in.get_json()["access_token"]))
    assert response.status_code == 200
    assert cookie(client, "refresh_token", "/api/auth") is None
    assert cookie(client, "csrf_refresh_token") is None
