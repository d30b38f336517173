"""Issue 10, item 10: the slash redirects are relative, never built from the ``Host`` header.

werkzeug builds a ``RequestRedirect`` URL from the request's scheme and ``Host``; a client (or a cache
keyed without ``Host``) following ``POST /token`` -> 308 would go wherever the header said.
"""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD

HOSTILE_HOSTS = [
    "evil.example",
    "evil.example:8443",
    "127.0.0.1.evil.example",
    "[::1]:1",
    "evil.example/path",  # characters werkzeug refuses in a host
    "evil.example\\",
]

REDIRECTS = [
    ("post", "/token", "/token/"),
    ("post", "/token?next=%2F%2Fevil.example&x=1", "/token/?next=%2F%2Fevil.example&x=1"),
    ("post", "/token/refresh?x=1", "/token/refresh/?x=1"),
    ("get", "/list", "/list/"),
    ("get", "/list?page=2", "/list/?page=2"),
    ("head", "/list?page=2", "/list/?page=2"),
    ("get", "/api//auth/whoami?x=1", "/api/auth/whoami?x=1"),  # merged slashes redirect too
    ("get", "//list", "/"),
]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
@pytest.mark.parametrize(("method", "path", "location"), REDIRECTS)
def test_slash_redirect_is_relative_whatever_the_host_header(client, host, method, path, location):
    response = getattr(client, method)(path, headers={"Host": host})
    assert response.status_code == 308
    assert response.headers["Location"] == location
    assert f"//{host}" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path", "location"), REDIRECTS[:2])
def test_slash_redirect_ignores_forwarded_host_headers(client, method, path, location):
    """No proxy is trusted by default, so X-Forwarded-Host must not leak in either."""
    headers = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    response = getattr(client, method)(path, headers=headers)
    assert response.status_code == 308
    assert response.headers["Location"] == location


def test_following_the_redirect_with_the_body_still_signs_in(client, make_user):
    """308 keeps method and body: a client that follows the relative Location gets the pair."""
    user = make_user()
    body = {"username": user.username, "password": PASSWORD}
    response = client.post("/token", json=body, headers={"Host": "evil.example"})
    assert response.status_code == 308
    followed = client.post(response.headers["Location"], json=body)
    assert followed.status_code == 200
    assert set(followed.get_json()) == {"refresh", "access"}
