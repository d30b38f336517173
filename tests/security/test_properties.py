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
from tests.conftest import login
from tests.helpers import BAD_LOGIN, BAD_REFRESH, BAD_TOKEN, PASSWORD, bearer

PROPERTY = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    max_examples=60,
    deadline=None,
    database=None,  # no example database left in the working tree
)

# Any code point, with NUL, lone surrogates (a JSON escape can carry them; no UTF-8 text can) and the
# usual suspects made likely: one draw in four. SUSPECTS is mapped so that st.text draws it as its own
# branch; left bare, st.text merges every branch into one set of code points drawn evenly, where the
# suspects are as rare as any other of the million.
SUSPECTS = st.sampled_from("\x00\ud800\udbff\udc00\udfff\u200b\u202e'\"$%_\\").map(str)
CHARS = st.one_of(st.characters(), st.characters(), st.characters(), SUSPECTS)
TEXT = st.text(CHARS, max_size=40)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
# Plausible values per field (half the draws), so that many examples get past validation into the services.
# Each string field also gets a lone surrogate among them: a value that is well-formed JSON, not text.
PLAUSIBLE: dict[str, list[Any]] = {
    "username": [
        "admin",
        "victim",
        "ADMIN",
        "ａｄｍｉｎ",
        "\u0430dmin",
        "nobody",
        "new.user+1",
        "vic\ud800tim",
        "\udc00",
    ],
    "password": [
        PASSWORD,
        "a-long-enough-password",
        "another-fine-passphrase",
        "short",
        "x" * 1025,
        "a-long-enough-\udfff",
        "\ud800" * 8,
    ],
    "email": ["x@example.com", "victim@example.com", "NEW@Example.COM", "not-an-email", "\udc00@example.com"],
    "refresh": ["eyJhbGciOiJIUzI1NiJ9.e30.sig", "a.b.c", "' OR '1'='1", "eyJ\ud800.e30.sig", "\udfff"],
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


# Byte sequences no UTF-8 decoder should accept: a stray continuation byte, 0xFF, an overlong NUL, a
# surrogate's would-be bytes (which Python's JSON decoder lets through as a lone surrogate), and a code
# point past U+10FFFF.
INVALID_UTF8 = st.sampled_from(
    [b"\x80", b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80"]
)


@st.composite
def encoded(draw: st.DrawFn, body: Any) -> bytes:
    """The body as a client might send it: escaped ASCII, raw UTF-8 (a surrogate as its invalid bytes),
    or raw with an invalid UTF-8 sequence spliced in after a quote."""
    kind = draw(st.sampled_from(["escaped", "raw", "spliced"]))
    if kind == "escaped":
        return json.dumps(body).encode()
    data = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if kind == "raw":
        return data
    # just after a quote: the start of a string (still JSON, no longer UTF-8) or just after one
    quotes = [at + 1 for at, byte in enumerate(data) if byte == ord('"')] or [0]
    at = draw(st.sampled_from(quotes))
    return data[:at] + draw(INVALID_UTF8) + data[at:]


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


# Section 1's refusals are exact bodies, whatever made the request impossible.
SECTION_1_REFUSALS = {
    "/token/": BAD_LOGIN,
    "/token/refresh/": BAD_REFRESH,
}


@pytest.fixture
def accounts(client, make_user) -> dict[str, Any]:
    """An admin and a victim, each signed in once; the examples of one test share them."""
    make_user("admin", role=Role.ADMIN)
    victim = make_user("victim")
    return {"victim_id": victim.id, "admin": login(client, "admin"), "victim": login(client, "victim")}


def send_and_check(client, accounts, path: str, data, body_strategy) -> None:
    """Send one drawn body (drawn bytes too) as its endpoint's caller: never a 5xx, always JSON, and
    a section 1 refusal byte for byte."""
    method, _fields, who = ENDPOINTS[path]
    body = data.draw(body_strategy, label="body")
    headers = bearer(accounts[who]["access_token"]) if who else {}
    response = getattr(client, method)(
        path.format(victim=accounts["victim_id"]),
        data=data.draw(encoded(body), label="bytes"),
        content_type="application/json",
        headers=headers,
    )
    assert_json_and_no_5xx(response)
    if response.status_code == 401 and path in SECTION_1_REFUSALS:
        assert response.data == SECTION_1_REFUSALS[path]


@pytest.mark.parametrize("path", list(ENDPOINTS))
@PROPERTY
@given(data=st.data())
def test_any_json_body_gets_a_json_answer_below_500(client, accounts, path, data):
    send_and_check(client, accounts, path, data, bodies(ENDPOINTS[path][1]))


STRING_FIELDS = {"username", "password", "email", "refresh", "current_password", "new_password", "role"}


@st.composite
def one_text_field(draw: st.DrawFn, fields: tuple[str, ...]) -> dict[str, Any]:
    """Every field a plausible value but one string field, which holds any text at all: bodies that
    get past the other fields' checks, so odd text reaches the services (where a 500 would hide)."""
    # a name and an address nobody has taken yet, half the time, so a registration gets as far as hashing
    fresh = {
        "username": st.integers(0, 2**32).map("fresh.user{}".format),
        "email": st.integers(0, 2**32).map("fresh{}@example.com".format),
    }
    body = {f: draw(st.sampled_from(PLAUSIBLE[f]) | fresh.get(f, st.nothing())) for f in fields}
    field = draw(st.sampled_from([f for f in fields if f in STRING_FIELDS]))
    plausible = st.sampled_from([v for v in PLAUSIBLE[field] if isinstance(v, str)])
    # bare, or inside a plausible value (long enough for a password, a name that might exist)
    body[field] = draw(
        st.one_of(TEXT, st.builds(lambda a, t, b: a + t + b, plausible, TEXT, st.just("") | TEXT))
    )
    return body


@pytest.mark.parametrize("path", list(ENDPOINTS))
@PROPERTY
@given(data=st.data())
def test_any_text_in_a_string_field_gets_a_json_answer_below_500(client, accounts, path, data):
    send_and_check(client, accounts, path, data, one_text_field(ENDPOINTS[path][1]))


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
        assert response.data == BAD_TOKEN
    elif response.status_code == 401:
        assert body["code"] == "invalid_token"
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
