"""Issue 10, item 5: an account whose hash predates the current ``FLASK_BCRYPT_ROUNDS`` must not answer
faster than an unknown username, or the clock tells which usernames exist.

The attack measured 9.7 ms for a user with an old cost-4 hash against 412 ms for an unknown user (one
verify of the dummy hash at the configured cost). As in the catalogue, hash work is counted through the
hasher's ``CryptContext.verify`` and its cost read from the hashes verified; no clock is read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from passlib.hash import bcrypt_sha256

from authsvc.config import Settings
from authsvc.models import User
from tests.conftest import make_settings
from tests.helpers import PASSWORD

CONFIGURED_ROUNDS = 5  # make_user hashes at cost 4: every account it makes has an "old" hash here
TOKEN, LOGIN = "/token/", "/api/auth/login"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, bcrypt_rounds=CONFIGURED_ROUNDS)


@pytest.fixture
def verified_costs(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bcrypt cost of every hash the app's hasher verifies (0 for a hash of another scheme)."""
    context = app.extensions["authsvc.hasher"].context
    real_verify = context.verify
    costs: list[int] = []

    def spy(secret: str, stored: str, *args: Any, **kwargs: Any) -> bool:
        costs.append(bcrypt_sha256.from_string(stored).rounds if bcrypt_sha256.identify(stored) else 0)
        return real_verify(secret, stored, *args, **kwargs)

    monkeypatch.setattr(context, "verify", spy)
    return costs


@pytest.fixture
def old_hash_user(make_user: Callable[..., User]) -> User:
    user = make_user()
    assert bcrypt_sha256.from_string(user.password_hash).rounds < CONFIGURED_ROUNDS
    return user


ATTEMPTS = {
    "old-cost-hash-wrong-password": lambda user: (user.username, "wrong-password-1", 401),
    "old-cost-hash-right-password": lambda user: (user.username, PASSWORD, 200),
    "unknown-user": lambda user: ("nobody-at-all", PASSWORD, 401),
}


@pytest.mark.parametrize("path", [TOKEN, LOGIN], ids=["token", "login"])
@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_timing_attack_old_cost_hash_signs_in_at_the_configured_cost(
    client: FlaskClient, old_hash_user: User, verified_costs: list[int], path: str, attempt: str
) -> None:
    username, password, status = ATTEMPTS[attempt](old_hash_user)
    response = client.post(path, json={"username": username, "password": password})
    assert response.status_code == status
    # at least the unknown user's one verify at the configured cost, whoever is asked about
    assert [cost for cost in verified_costs if cost >= CONFIGURED_ROUNDS], verified_costs


def test_the_rehashed_account_then_costs_exactly_one_verify(
    client: FlaskClient, old_hash_user: User, verified_costs: list[int]
) -> None:
    """Control: sign-in still rehashes at the configured cost, after which one verify is all it takes."""
    username = old_hash_user.username
    assert client.post(LOGIN, json={"username": username, "password": PASSWORD}).status_code == 200
    verified_costs.clear()
    response = client.post(LOGIN, json={"username": username, "password": "wrong-password-1"})
    assert response.status_code == 401
    assert verified_costs == [CONFIGURED_ROUNDS]
