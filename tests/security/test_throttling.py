"""Throttling: guessing one account, spraying many, and the counts shared through Redis."""

from __future__ import annotations

import itertools
import os
import uuid

import pytest

from tests.conftest import login
from tests.helpers import PASSWORD, bearer, sign_in_from

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
_addresses = (f"198.51.100.{n}" for n in itertools.cycle(range(1, 255)))


@pytest.fixture
def throttled(make_app):
    """An app with throttling on (the suite's default app has it off)."""

    def make(**overrides):
        return make_app(ratelimit_enabled=True, **overrides)

    return make


sign_in = sign_in_from  # a sign-in attempt from a fresh client address


@pytest.mark.parametrize("path", ["/api/auth/login", "/token/"])
def test_guessing_one_account_from_many_ips_is_stopped_after_five(throttled, path):
    client = throttled().test_client()
    statuses = [sign_in(client, "victim", path=path).status_code for _ in range(5)]
    assert statuses == [401] * 5
    refused = sign_in(client, "victim", path=path)
    assert refused.status_code == 429
    assert refused.get_json() == {"detail": "Too many requests; slow down.", "code": "rate_limited"}
    assert int(refused.headers["Retry-After"]) > 0
    # the limit is per account, and names compare the way sign-in compares them
    assert sign_in(client, "VICTIM", path=path).status_code == 429
    assert sign_in(client, "someone-else", path=path).status_code == 401


def test_spraying_many_accounts_from_one_ip_is_stopped_after_thirty(throttled):
    client = throttled().test_client()
    statuses = [sign_in(client, f"name{n}", ip="203.0.113.7").status_code for n in range(30)]
    assert set(statuses) == {401}
    assert sign_in(client, "name-next", ip="203.0.113.7").status_code == 429
    assert sign_in(client, "name-next", ip="203.0.113.8").status_code == 401


def test_successful_sign_ins_do_not_count(throttled):
    app = throttled()
    client = app.test_client()
    client.post(
        "/api/auth/register", json={"username": "reg", "email": "reg@example.com", "password": PASSWORD}
    )
    for _ in range(8):
        assert sign_in(client, "reg", PASSWORD, ip="203.0.113.9").status_code == 200


def test_limits_are_configurable_and_registration_is_limited_per_ip(throttled):
    client = throttled(ratelimit_register="2/hour").test_client()
    for n in range(2):
        body = {"username": f"new{n}", "email": f"new{n}@example.com", "password": PASSWORD}
        assert client.post("/api/auth/register", json=body).status_code == 201
    body = {"username": "new3", "email": "new3@example.com", "password": PASSWORD}
    assert client.post("/api/auth/register", json=body).status_code == 429


def test_refresh_is_limited_per_ip(throttled):
    app = throttled(ratelimit_refresh="2/minute")
    client = app.test_client()
    client.post(
        "/api/auth/register", json={"username": "ref", "email": "ref@example.com", "password": PASSWORD}
    )
    token = login(client, "ref")["refresh_token"]
    for _ in range(2):
        reply = client.post("/api/auth/refresh", headers=bearer(token))
        assert reply.status_code == 200
        token = reply.get_json()["refresh_token"]
    assert client.post("/api/auth/refresh", headers=bearer(token)).status_code == 429


def test_x_forwarded_for_cannot_pick_a_fresh_bucket_by_default(throttled):
    client = throttled(ratelimit_login_ip="3/minute").test_client()
    for n in range(3):
        headers = {"X-Forwarded-For": f"192.0.2.{n}"}
        assert (
            client.post(
                "/api/auth/login", json={"username": f"x{n}", "password": "nope-nope"}, headers=headers
            ).status_code
            == 401
        )
    spoofed = client.post(
        "/api/auth/login",
        json={"username": "x9", "password": "nope-nope"},
        headers={"X-Forwarded-For": "192.0.2.99"},
    )
    assert spoofed.status_code == 429


def test_trusted_proxy_hops_make_the_forwarded_address_count(throttled):
    client = throttled(ratelimit_login_ip="3/minute", trusted_proxies=1).test_client()
    for n in range(3):
        headers = {"X-Forwarded-For": "192.0.2.50"}
        assert (
            client.post(
                "/api/auth/login", json={"username": f"y{n}", "password": "nope-nope"}, headers=headers
            ).status_code
            == 401
        )
    other_client = client.post(
        "/api/auth/login",
        json={"username": "y9", "password": "nope-nope"},
        headers={"X-Forwarded-For": "192.0.2.51"},
    )
    assert other_client.status_code == 401


@pytest.mark.skipif(
    not TEST_REDIS_URL, reason="needs Redis to share counts between processes: set TEST_REDIS_URL=redis://..."
)
def test_two_processes_share_counts_through_redis(throttled):
    """Two app instances stand in for two server processes: one Redis, one count."""
    first = throttled(ratelimit_storage_uri=TEST_REDIS_URL).test_client()
    second = throttled(ratelimit_storage_uri=TEST_REDIS_URL).test_client()
    account = f"shared-{uuid.uuid4().hex[:12]}"
    statuses = [sign_in(client, account).status_code for client in (first, second, first, second, first)]
    assert statuses == [401] * 5
    assert sign_in(second, account).status_code == 429
    assert sign_in(first, account).status_code == 429


def test_both_sign_in_endpoints_draw_on_one_budget(throttled):
    """Offering sign-in at two URLs must not double the guesses allowed on one account."""
    client = throttled().test_client()
    statuses = [sign_in(client, "twin", path=path).status_code for path in ["/token/", "/api/auth/login"] * 3]
    assert statuses == [401] * 5 + [429]


def test_both_refresh_endpoints_draw_on_one_budget(throttled):
    client = throttled(ratelimit_refresh="2/minute").test_client()
    client.post(
        "/api/auth/register", json={"username": "tw", "email": "tw@example.com", "password": PASSWORD}
    )
    token = login(client, "tw")["refresh_token"]
    token = client.post("/token/refresh/", json={"refresh": token}).get_json()["refresh"]
    assert client.post("/api/auth/refresh", headers=bearer(token)).status_code == 200
    assert client.post("/token/refresh/", json={"refresh": token}).status_code == 429


def register(client, username):
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    assert client.post("/api/auth/register", json=body).status_code == 201


def change_password(client, access, current="wrong-password", ip=None):
    return client.post(
        "/api/auth/password",
        json={"current_password": current, "new_password": "another-long-passphrase-9"},
        headers=bearer(access),
        environ_base={"REMOTE_ADDR": ip or next(_addresses)},
    )


def test_password_change_guesses_are_throttled(throttled):
    """A stolen access token is no oracle: wrong current passwords stop after the account's budget."""
    client = throttled().test_client()
    register(client, "stolen")
    access = login(client, "stolen")["access_token"]
    statuses = [change_password(client, access).status_code for _ in range(40)]
    assert statuses == [401] * 5 + [429] * 35


def test_password_change_guesses_share_the_sign_in_budget(throttled):
    client = throttled().test_client()
    register(client, "shared-budget")
    access = login(client, "shared-budget")["access_token"]
    assert [sign_in(client, "shared-budget").status_code for _ in range(3)] == [401] * 3
    assert [change_password(client, access).status_code for _ in range(2)] == [401] * 2
    assert sign_in(client, "shared-budget").status_code == 429
    assert change_password(client, access).status_code == 429


def test_a_right_current_password_gives_the_budget_back(throttled):
    client = throttled(ratelimit_login_username="2/minute").test_client()
    register(client, "changer")
    access = login(client, "changer")["access_token"]
    reply = change_password(client, access, current=PASSWORD)
    assert reply.status_code == 200
    assert [sign_in(client, "changer").status_code for _ in range(3)] == [401, 401, 429]


def test_successful_sign_ins_are_bounded_per_account(throttled):
    client = throttled(ratelimit_login_success="3/minute").test_client()
    register(client, "busy")
    register(client, "other")
    statuses = [sign_in(client, "busy", PASSWORD).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = sign_in(client, "busy", PASSWORD)
    assert int(refused.headers["Retry-After"]) > 0
    # the bound is per account, and wrong passwords are still answered for what they are
    assert sign_in(client, "other", PASSWORD).status_code == 200


def test_ipv6_clients_are_counted_per_64(throttled):
    """One host holds a whole /64: rotating addresses inside it must not buy fresh budgets."""
    client = throttled(ratelimit_login_ip="3/minute").test_client()
    statuses = [sign_in(client, f"v6-{n}", ip=f"2001:db8:1:2:{n:x}::{n + 1:x}").status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert sign_in(client, "v6-next", ip="2001:db8:1:3::1").status_code == 401  # another /64


def test_ipv4_mapped_addresses_count_as_their_ipv4(throttled):
    client = throttled(ratelimit_login_ip="2/minute").test_client()
    assert sign_in(client, "m1", ip="192.0.2.77").status_code == 401
    assert sign_in(client, "m2", ip="::ffff:192.0.2.77").status_code == 401
    assert sign_in(client, "m3", ip="192.0.2.77").status_code == 429


def test_self_deletion_guesses_share_the_sign_in_budget(throttled):
    client = throttled().test_client()
    register(client, "deleter")
    access = login(client, "deleter")["access_token"]
    me = client.get("/api/auth/whoami", headers=bearer(access)).get_json()["id"]
    statuses = [
        client.delete(
            f"/api/users/{me}", headers=bearer(access), json={"current_password": "guess-guess"}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    assert sign_in(client, "deleter").status_code == 429
