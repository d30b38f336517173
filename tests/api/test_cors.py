"""Issue 10, item 8: ``FLASK_CORS_ORIGINS`` grants credentialed CORS to exactly the listed origins.

flask-cors treats any entry with a regex character as an unanchored regex, so ``https://*.example.com``
used to grant ``https://xexample.com`` and ``https://example.com.evil.net``. Each row below is one
Origin, sent as a browser would: a preflight for a cookie refresh, then a credentialed request.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from authsvc.config import Settings
from tests.conftest import make_settings
from tests.helpers import bearer

ORIGINS = ",".join(
    [
        "https://app.example.com",
        "https://*.example.com",
        "http://localhost:5173",
        "HTTPS://Default-Port.Example.ORG:443",  # normalised to https://default-port.example.org
        "http://[::1]:8080",
    ]
)

ALLOWED = [
    "https://app.example.com",
    "https://APP.Example.com",  # host names are case-insensitive
    "https://a.example.com",
    "https://a.b.example.com",
    "https://xn--bcher-kva.example.com",
    "https://a-1.example.com",
    "http://localhost:5173",
    "https://default-port.example.org",
    "http://[::1]:8080",
]

LOOKALIKES = [
    "https://xexample.com",  # the wildcard's dot is a dot, not "any character"
    "https://example.com.evil.net",  # the match ends where the entry ends
    "https://app.example.com.evil.net",
    "https://app.example.comx",
    "https://example.com",  # *. needs at least one label
    "http://a.example.com",  # another scheme
    "https://a.example.com:8443",  # another port
    "https://a.example.com:443",  # not how a browser writes it; never matched loosely
    "https://a_b.example.com",  # not a DNS label
    "https://-a.example.com",
    "https://a..example.com",
    "https://.example.com",
    "https://a.example.com/",
    "https://a.example.com.",
    "https://evil.net/.example.com",
    "https://evil.net?.example.com",
    "https://evil.net#.example.com",
    "https://user@a.example.com",
    "http://localhost:51730",
    "http://localhost:5173.evil.net",
    "http://localhost",
    "https://default-port.example.org.evil.net",
    "http://[::1]:80800",
    "http://[::2]:8080",
    "http://1:8080",  # what [::1] means as a regex character class
    "null",
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, cors_origins=ORIGINS)


def preflight(client, origin):
    return client.options(
        "/api/auth/refresh",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-CSRF-Token",
        },
    )


def credentialed(client, origin, access):
    return client.get("/api/auth/whoami", headers={"Origin": origin, **bearer(access)})


@pytest.mark.parametrize("origin", ALLOWED)
def test_cors_grants_a_listed_origin(client, user_tokens, origin):
    _, tokens = user_tokens
    response = preflight(client, origin)
    assert response.headers.get("Access-Control-Allow-Origin") == origin
    assert response.headers.get("Access-Control-Allow-Credentials") == "true"
    assert "x-csrf-token" in response.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "Origin" in response.headers.get_all("Vary")
    response = credentialed(client, origin, tokens["access_token"])
    assert response.status_code == 200
    assert response.headers.get("Access-Control-Allow-Origin") == origin
    assert response.headers.get("Access-Control-Allow-Credentials") == "true"


@pytest.mark.parametrize("origin", LOOKALIKES)
def test_cors_refuses_lookalike_origin(client, user_tokens, origin):
    _, tokens = user_tokens
    for response in (preflight(client, origin), credentialed(client, origin, tokens["access_token"])):
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers
