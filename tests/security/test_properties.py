"""Properties: whatever JSON a body holds, and whatever an Authorization header says, the answer is
JSON and never a 5xx.

Each test builds its app once (the function-scoped fixtures) and throws its examples at it, so state
piles up between examples (accounts registered, sessions started) the way it would on a live server.
"""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from authsvc.models import Role
from tests.conftest import PASSWORD, bearer, login

PROPERTY = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    max_examples=60,
    deadline=None,
    database=None,  # no example database left in the working tree
)

# Any Unicode but lone surrogates (JSON cannot carry them as text), NUL and the usual suspects made likely.
CHARS = st.characters(exclude_categories=("Cs",)) | st.sampled_from("\x00\u200b\u202e'\"$%_\\")
TEXT = st.text(CHARS, max_size=40)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
# Plausible values per field (half the draws), so that many examples get past validation into the services.
PLAUSIBLE: dict[str, list[Any]] = {
    "username": ["admin", "victim", "ADMIN", "ａｄｍｉｎ", "\u0430dmin", "nobody", "new.user+1"],
    "password": [PASSWORD, "a-long-enough-password", "another-fine-passphrase", "short", "x" * 1025],
    "email": ["x@example.com", "victim@example.com", "NEW@Example.COM", "not-an-email"],
    "refresh": ["eyJhbGciOiJIUzI1NiJ9.e30.sig", "a.b.c", "' OR '1'='1"],
    "role": ["admin", "user", "root"],
    "is_active": [True, False, "true", 0],
    "cookie": [True, False, "yes"],
}
# Never the real password here: a successful change would end the session the examples share.
PLAUSIBLE["current_password"] = PLAUSIBLE["new_password"] = PLAUSIBLE["password"][1:]


def value_for(field: str) -> st.SearchStrategy[Any]:
    plausible = st.sampled_from(PLAUSIBLE[field])
    return st.one_of(plausible, plausible, TEXT, ANY_JSON)  # one_of picks a branch evenly: 2 in 4


def bodies(fields: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Arbitrary JSON; or an object with every real field, or some of them, plus arbitrary extras."""
    values = {field: value_for(field) for field in fields}
    every = st.fixed_dictionaries(values)
    some = st.fixed_dictionaries({}, optional=values)
    extras = st.dictionaries(TEXT, ANY_JSON, max_size=2)
    shaped = st.builds(lambda known, extra: {**extra, **known}, st.one_of(every, every, some), extras)
    return st.one_of(ANY_JSON, shaped, shaped)


def assert_json_and_no_5xx(response: TestResponse) -> Any:
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: how deep the examples got
    assert response.status_code < 500, response.data[:300]
    assert response.mimetype == "application/json", response.data[:300]
    assert b"Traceback" not in response.data
    return json.loads(response.data)


ENDPOINTS = {
    # path: (method, fields, who signs the request)
    "/token/": ("post", ("username", "password"), None),
    "/token/refresh/": ("post", ("refresh",), None),
    "/api/auth/register": ("post", ("username", "email", "password"), None),
    "/api/auth/login": ("post", ("username", "password", "cookie"), None),
    "/api/auth/password": ("post", ("current_password", "new_password"), "victim"),
    "/api/users/{victim}": ("patch", ("role", "is_active", "email"), "admin"),
}


@pytest.fixture
def accounts(client, make_user) -> dict[str, Any]:
    """An admin and a victim, each signed in once; the examples of one test share them."""
    make_user("admin", role=Role.ADMIN)
    victim = make_user("victim")
    return {"victim_id": victim.id, "admin": login(client, "admin"), "victim": login(client, "victim")}


@pytest.mark.parametrize("path", list(ENDPOINTS))
@PROPERTY
@given(data=st.data())
def test_any_json_body_gets_a_json_answer_below_500(client, accounts, path, data):
    method, fields, who = ENDPOINTS[path]
    body = data.draw(bodies(fields), label="body")
    headers = bearer(accounts[who]["access_token"]) if who else {}
    response = getattr(client, method)(
        path.format(victim=accounts["victim_id"]),
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )
    assert_json_and_no_5xx(response)


HEADER_CHARS = st.characters(max_codepoint=0xFF, exclude_characters="\r\n")  # what HTTP can carry
TOKEN_CHARS = string.ascii_letters + string.digits + "-_.= \t\x00"


@st.composite
def authorization(draw, token: str) -> str:
    """Noise, a Bearer with noise, the live access token with one edit, or untouched."""
    kind = draw(st.sampled_from(["noise", "bearer-noise", "edited-token", "live-token"]))
    if kind == "live-token":  # the control: any spelling of the scheme, the token untouched
        return f"{draw(st.sampled_from(['Bearer', 'bearer', 'BEARER', 'bEaReR']))} {token}"
    if kind == "noise":
        return draw(st.text(HEADER_CHARS, max_size=80))
    if kind == "bearer-noise":
        scheme = draw(st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Token", ""]))
        gap = draw(st.sampled_from([" ", "  ", "\t", ""]))
        return f"{scheme}{gap}{draw(st.text(HEADER_CHARS, max_size=80))}"
    at = draw(st.integers(0, len(token)))
    edit = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
    char = draw(st.sampled_from(TOKEN_CHARS))
    edited = {
        "replace": token[:at] + char + token[at + 1 :],
        "insert": token[:at] + char + token[at:],
        "delete": token[:at] + token[at + 1 :],
        "truncate": token[:at],
    }[edit]
    return f"Bearer {edited}"


@pytest.mark.parametrize("path", ["/list/", "/api/auth/whoami"])
@PROPERTY
@given(data=st.data())
def test_any_authorization_header_is_200_or_401(client, accounts, path, data):
    value = data.draw(authorization(accounts["victim"]["access_token"]), label="Authorization")
    response = client.get(path, headers={"Authorization": value})
    body = assert_json_and_no_5xx(response)
    assert response.status_code in (200, 401), response.data[:300]
    if response.status_code == 401 and path == "/list/":
        assert response.data == b'{"detail": "Invalid username or password."}'
    elif response.status_code == 401:
        assert body["code"] == "invalid_token"
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
