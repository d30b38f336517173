"""keys.py and keyring.py without a database: kids, JWKs, sealing, and the key ring's reload rules
(every ``reload_interval``, and on an unknown kid at most once per ``unknown_kid_interval``), on an
injected clock, so no test sleeps."""

from __future__ import annotations

import threading
import time

import pytest

from authsvc.config import ConfigError, Settings
from authsvc.keyring import KeyRing, NoSigningKey, StoredKey
from authsvc.keys import (
    KeySealer,
    KeysUndecryptable,
    generate,
    key_members,
    public_jwk,
    secret_kid,
    thumbprint,
)

SECRET = "Hq3xV8kLz2RmW7tPc5NbJ9sYf4GdK1aE6uQw0iTo"
OLD = "Zt8mQ2vLx9RkW4pNc7BsJ3yHf6GdE1aU5oKi0wQe"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts its calls; hands out what ``keys`` holds (or raises ``error``)."""

    def __init__(self, keys: list[StoredKey]) -> None:
        self.keys, self.calls, self.error = keys, 0, None

    def __call__(self) -> list[StoredKey]:
        self.calls += 1
        if self.error:
            raise self.error
        return list(self.keys)


def stored(algorithm: str = "ES256", state: str = "current") -> StoredKey:
    key = generate(algorithm)
    return StoredKey(public_jwk(key, algorithm)["kid"], algorithm, state, key)


def ring(loader: Loader, clock: Clock, algorithm: str = "ES256", **kwargs) -> KeyRing:
    return KeyRing(algorithm=algorithm, secret=SECRET, loader=loader, clock=clock, **kwargs)


# --- kids, JWKs, sealing ---


def test_a_secrets_kid_is_stable_short_and_reveals_nothing():
    assert secret_kid(SECRET) == secret_kid(SECRET) != secret_kid(OLD)
    assert len(secret_kid(SECRET)) == 22 and SECRET[:6] not in secret_kid(SECRET)


def test_thumbprint_is_rfc_7638s_example():
    """RFC 7638 section 3.1: the RSA key and the thumbprint it prints."""
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n"
        "3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgd"
        "AZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur"
        "-kEgU8awapJzKnqDKgw"
    )
    assert thumbprint({"kty": "RSA", "n": n, "e": "AQAB"}) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    ("algorithm", "members"),
    [("EdDSA", {"kty", "crv", "x"}), ("ES256", {"kty", "crv", "x", "y"}), ("RS256", {"kty", "n", "e"})],
)
def test_a_public_jwk_has_exactly_the_public_members(algorithm, members):
    key = generate(algorithm)
    jwk = public_jwk(key, algorithm)
    assert set(jwk) == {"kid", "alg", "use", *members}
    assert jwk["kid"] == thumbprint(key_members(key.public_key())) and jwk["alg"] == algorithm


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
def test_sealing_round_trips_and_only_under_its_secret_and_kid(algorithm):
    key = generate(algorithm)
    sealed = KeySealer(SECRET).seal(key, "kid-1")
    opened = KeySealer(SECRET).open(sealed, "kid-1")
    assert public_jwk(opened, algorithm) == public_jwk(key, algorithm)
    with pytest.raises(KeysUndecryptable):
        KeySealer(OLD).open(sealed, "kid-1")  # another FLASK_SECRET_KEY
    with pytest.raises(KeysUndecryptable):
        KeySealer(SECRET).open(sealed, "kid-2")  # moved to another row
    with pytest.raises(KeysUndecryptable):
        KeySealer(SECRET).open(sealed[:-4] + "AAAA", "kid-1")  # altered


def test_the_undecryptable_message_is_one_line_naming_the_variable():
    message = str(KeysUndecryptable())
    assert isinstance(KeysUndecryptable(), ConfigError)
    assert message.startswith("FLASK_SECRET_KEY:") and "\n" not in message


# --- the key ring ---


def test_hs256_signs_with_the_secret_and_verifies_previous_secrets_without_a_database():
    keys = KeyRing(algorithm="HS256", secret=SECRET, previous_secrets=[OLD])
    assert keys.signer().kid == secret_kid(SECRET) and keys.signer().material == SECRET
    assert keys.verifier(secret_kid(OLD)).material == OLD
    assert keys.legacy is not None and keys.legacy.material == SECRET  # no kid: the secret alone
    assert keys.published() == ()


def test_an_asymmetric_ring_signs_with_the_current_key_of_its_algorithm():
    current, waiting, other = stored(), stored(state="next"), stored("EdDSA")
    keys = ring(Loader([waiting, other, current]), Clock())
    assert keys.signer().kid == current.kid
    assert {k["kid"] for k in keys.published()} == {current.kid, waiting.kid, other.kid}
    assert keys.published()[0]["kid"] in {current.kid, other.kid}  # current keys first
    assert keys.verifier(other.kid).algorithm == "EdDSA"  # another algorithm's keys still verify
    assert keys.verifier(secret_kid(SECRET)).algorithm == "HS256"  # and so does the HS256 secret
    assert keys.legacy is None  # no kid names no key under an asymmetric algorithm


def test_no_current_key_is_an_error_not_a_silent_hs256():
    with pytest.raises(NoSigningKey):
        ring(Loader([stored(state="next")]), Clock()).signer()


def test_a_key_whose_kid_is_not_its_thumbprint_is_ignored():
    genuine = stored()
    renamed = StoredKey("chosen-name", "ES256", "next", generate("ES256"))
    keys = ring(Loader([genuine, renamed]), Clock())
    assert keys.verifier("chosen-name") is None
    assert [k["kid"] for k in keys.published()] == [genuine.kid]


def test_reloads_every_reload_interval_lazily():
    clock, loader = Clock(), Loader([stored()])
    keys = ring(loader, clock, reload_interval=60)
    keys.signer()
    assert loader.calls == 1
    clock.now += 59
    keys.signer()
    assert loader.calls == 1
    rotated = stored()
    loader.keys = [rotated]
    clock.now += 1
    assert keys.signer().kid == rotated.kid and loader.calls == 2


def test_an_unknown_kid_reloads_at_most_once_per_interval_whatever_the_kid():
    clock, loader = Clock(), Loader([stored()])
    keys = ring(loader, clock, reload_interval=60, unknown_kid_interval=10)
    keys.signer()
    assert keys.verifier("unknown-1") is None and loader.calls == 2
    assert keys.verifier("unknown-2") is None and loader.calls == 2  # another kid, same interval
    newcomer = stored(state="next")
    loader.keys.append(newcomer)
    clock.now += 9.9
    assert keys.verifier(newcomer.kid) is None and loader.calls == 2
    clock.now += 0.1
    assert keys.verifier(newcomer.kid) is not None and loader.calls == 3


def test_many_threads_meeting_an_unknown_kid_cause_one_load():
    clock, loader = Clock(), Loader([stored()])
    keys = ring(loader, clock)
    keys.signer()
    slow = loader.__call__

    def slow_load():
        time.sleep(0.05)
        return slow()

    keys.loader = slow_load
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        keys.verifier("made-up")

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loader.calls == 2


def test_a_failing_reload_keeps_the_keys_and_waits_an_interval(caplog):
    clock, loader = Clock(), Loader([stored()])
    keys = ring(loader, clock, reload_interval=60)
    signer = keys.signer()
    loader.error = RuntimeError("database down")
    clock.now += 60
    assert keys.signer() == signer and loader.calls == 2
    assert "signing keys not reloaded" in caplog.text
    keys.signer()
    assert loader.calls == 2  # not retried on every request


# --- the settings ---


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://auth.example.com/", "https://auth.example.com"),
        ("HTTPS://Auth.Example.com:8443/base/", "https://auth.example.com:8443/base"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_public_url_is_kept_normalised(given, kept):
    assert Settings.from_env({"FLASK_PUBLIC_URL": given}).public_url == kept


@pytest.mark.parametrize(
    "value",
    ["auth.example.com", "ftp://auth.example.com", "https://", "https://a.example?x=1", "https://a.example#f",
     "https://user:pw@a.example", "https://a.example:99999", "javascript:alert(1)"],
)  # fmt: skip
def test_public_url_must_be_an_absolute_http_url(value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FLASK_PUBLIC_URL": value})
    assert str(caught.value).startswith("FLASK_PUBLIC_URL:") and "pw" not in str(caught.value)


def test_public_url_defaults_in_development_only():
    assert Settings.from_env({}).public_base_url == "http://127.0.0.1:8000"
    production = Settings(environment="production", jwt_secret_key=SECRET, secret_key=OLD)
    assert production.public_base_url is None


def test_algorithm_is_one_of_four():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FLASK_JWT_ALGORITHM": "HS512"})
    assert str(caught.value).startswith("FLASK_JWT_ALGORITHM:")


@pytest.mark.parametrize("previous", ["x7Qp", "change-me-to-a-random-value-of-32-bytes-or-more"])
def test_production_refuses_a_weak_previous_secret_without_quoting_it(previous):
    env = {
        "FLASK_ENVIRONMENT": "production",
        "FLASK_JWT_SECRET_KEY": SECRET,
        "FLASK_SECRET_KEY": OLD,
        "FLASK_JWT_PREVIOUS_SECRET_KEYS": f"{SECRET[::-1]},{previous}",
    }
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith("FLASK_JWT_PREVIOUS_SECRET_KEYS: entry 2")
    assert previous not in str(caught.value)
