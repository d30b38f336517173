"""Production refuses a secret that is long enough but plainly not random.

The 32-byte rule alone let the sample's own placeholder through, so tokens were signed with a key
anyone can read in this repository. Refusals are one line naming the variable, never the value.
"""

from __future__ import annotations

import base64
import os
import random
import secrets
import uuid
from pathlib import Path

import pytest

from authsvc.config import ConfigError, Settings
from tests.helpers import sample_value

ROOT = Path(__file__).resolve().parents[2]
GOOD = "BCCo6fBlYCoISonkK7RRqrFTNdpULEep"  # 32 random-looking bytes
OTHER_GOOD = "hLLc1VVukJi_FedP1TZlfxkmi0VO5M-p"


def production(**secrets_: str) -> Settings:
    return Settings.from_env(
        {
            "FLASK_ENVIRONMENT": "production",
            "FLASK_JWT_SECRET_KEY": secrets_.get("jwt", GOOD),
            "FLASK_SECRET_KEY": secrets_.get("flask", OTHER_GOOD),
        }
    )


REFUSED = {
    "old-sample-placeholder": '<PLACEHOLDER: 32+ random bytes, e.g. python3 -c "import secrets; '
    'print(secrets.token_urlsafe(48))">',
    "change-me": "change-me-" + GOOD,
    "changeme": "changeme" + GOOD,
    "CHANGE_ME": "CHANGE_ME_" + GOOD,
    "replace-me": "replace-me-with-something-long-and-random",
    "your-secret": "your-secret-key-here-make-it-long-enough",
    "secret-phrase": "my-super-secret-key-for-jwt-signing-2024",
    "password": "the-production-password-of-the-service-1",
    "old-test-secret": "test-jwt-secret-0123456789abcdef0123456789",
    "x-template": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
    "xxxxxx-inside": "k3Jq9Zx2Lp7WxxxxxxQ4nB8vR1tY6mC0",
    "one-character": "a" * 48,
    "two-characters": "ab" * 24,
    "seven-different": "".join(random.Random(7).choices("qwzkmvb", k=48)),
    "repeated-pattern": "k3Jq9Zx2Lp" * 4,
    "prefixed-repetition": "prod-" + "k3Jq9Zx2Lp7W" * 3,
    "alphabet-run": "abcdefghijklmnopqrstuvwxyz0123456789",
    "descending-run": "zyxwvutsrqponmlkjihgfedcba9876543210",
    "digits-run": "Q7kP2x-0123456789-Lm4vT9zR8wN3sJ5",
}


@pytest.mark.parametrize("variable", ["FLASK_JWT_SECRET_KEY", "FLASK_SECRET_KEY"])
def test_production_refuses_the_samples_own_secret(variable):
    value = sample_value(variable)
    assert len(value.encode()) >= 32  # the case the length rule let through
    with pytest.raises(ConfigError) as caught:
        production(**{"jwt" if variable == "FLASK_JWT_SECRET_KEY" else "flask": value})
    message = str(caught.value)
    assert message.startswith(f"{variable}:") and "\n" not in message
    assert value not in message


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
@pytest.mark.parametrize("which", ["jwt", "flask"])
def test_production_refuses_a_secret_that_is_plainly_not_random(which, value):
    assert len(value.encode()) >= 32
    with pytest.raises(ConfigError) as caught:
        production(**{which: value})
    message = str(caught.value)
    variable = "FLASK_JWT_SECRET_KEY" if which == "jwt" else "FLASK_SECRET_KEY"
    assert message.startswith(f"{variable}:") and "\n" not in message
    assert value not in message
    assert "secrets.token_urlsafe" in message  # says how to make a good one


ACCEPTED = {
    "token_urlsafe(48)": lambda: secrets.token_urlsafe(48),
    "token_urlsafe(32)": lambda: secrets.token_urlsafe(32),
    "token_urlsafe(24)": lambda: secrets.token_urlsafe(24),
    "token_hex(32)": lambda: secrets.token_hex(32),
    "token_hex(16)": lambda: secrets.token_hex(16),
    "openssl-rand-base64-32": lambda: base64.b64encode(os.urandom(32)).decode(),
    "uuid4-hex": lambda: uuid.uuid4().hex,
    "two-bytes-a-character": lambda: "ψЖёΩщЛдЪλФюδЬπЯз",
}


@pytest.mark.parametrize("make", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_production_accepts_random_secrets(make):
    """Many draws each: a rule that refused one real key in a few hundred would show here."""
    for _ in range(200):
        jwt_secret, flask_secret = make(), make()
        settings = production(jwt=jwt_secret, flask=flask_secret)
        assert (settings.jwt_secret_key, settings.secret_key) == (jwt_secret, flask_secret)


def test_development_keeps_any_secret_it_is_given():
    """Only production signs tokens that matter; a developer's copied sample still starts."""
    value = sample_value("FLASK_JWT_SECRET_KEY")
    assert Settings.from_env({"FLASK_JWT_SECRET_KEY": value}).jwt_secret_key == value
