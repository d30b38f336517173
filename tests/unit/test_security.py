"""security.py: password hashing and JWT encoding, without Flask or a database."""

from __future__ import annotations

import base64
import json
import sys
from datetime import timedelta
from typing import Any

import bcrypt
import jwt
import pytest
from passlib.hash import bcrypt_sha256

from authsvc import security
from authsvc.exceptions import TokenInvalid
from authsvc.keys import secret_kid
from authsvc.models import utcnow
from authsvc.security import ALGORITHM, MAX_TOKEN_LENGTH, REQUIRED_CLAIMS, PasswordHasher, TokenCodec

# 64 bytes: long enough for HS512 too, so PyJWT never warns about the key length.
SECRET = "unit-test-jwt-secret-" + "0123456789abcdef" * 3
OTHER_SECRET = "another-jwt-secret-xx" + "fedcba9876543210" * 3
ACCESS = timedelta(minutes=15)
REFRESH = timedelta(days=14)


def make_codec(**overrides: Any) -> TokenCodec:
    values: dict[str, Any] = {
        "secret": SECRET,
        "issuer": "authsvc",
        "audience": "authsvc",
        "access_lifetime": ACCESS,
        "refresh_lifetime": REFRESH,
    }
    values.update(overrides)
    return TokenCodec(**values)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(4)


@pytest.fixture
def codec() -> TokenCodec:
    return make_codec()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def valid_claims(**overrides: Any) -> dict[str, Any]:
    """Every claim the codec requires, valid for our codec; ``overrides`` change or add some."""
    now = int(utcnow().timestamp())
    claims: dict[str, Any] = {
        "sub": "1",
        "jti": "jti-1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "type": "access",
        "sid": "sid-1",
        "iss": "authsvc",
        "aud": "authsvc",
    }
    claims.update(overrides)
    return claims


def access_token(codec: TokenCodec, **kwargs: Any) -> str:
    values: dict[str, Any] = {"subject": "1", "token_type": "access", "session_id": "sid-1", "now": utcnow()}
    values.update(kwargs)
    return codec.encode(**values).token


# --- PasswordHasher -------------------------------------------------------------------------------


def test_hash_round_trip(hasher):
    password_hash = hasher.hash("correct-horse-battery")
    assert password_hash.startswith("$bcrypt-sha256$")
    assert hasher.verify("correct-horse-battery", password_hash)
    assert not hasher.verify("correct-horse-batterY", password_hash)


def test_every_character_counts_beyond_72_bytes(hasher):
    password = "a" * 99 + "b"
    password_hash = hasher.hash(password)
    assert hasher.verify(password, password_hash)
    assert not hasher.verify("a" * 99 + "c", password_hash)
    assert not hasher.verify("a" * 100, password_hash)


@pytest.mark.parametrize(
    "attempt",
    ["correct-horse-battery\0", "correct-horse\0battery", "\0", "x" * 5000],
    ids=["trailing-nul", "inner-nul", "only-nul", "5000-chars"],
)
def test_odd_passwords_fail_instead_of_raising(hasher, attempt):
    password_hash = hasher.hash("correct-horse-battery")
    assert hasher.verify(attempt, password_hash) is False


def test_nul_does_not_truncate_the_password(hasher):
    password_hash = hasher.hash("correct-horse")
    assert hasher.verify("correct-horse\0anything", password_hash) is False


def test_verify_without_hash_is_false(hasher):
    assert hasher.verify("correct-horse-battery", None) is False
    assert hasher.verify("", None) is False


def spy_on_verify(monkeypatch: pytest.MonkeyPatch, hasher: PasswordHasher) -> list[str]:
    """Record the hash each ``context.verify`` call is given, and still run the real check."""
    seen: list[str] = []
    real_verify = hasher.context.verify

    def spy(secret: str, stored: str, *args: Any, **kwargs: Any) -> bool:
        seen.append(stored)
        return real_verify(secret, stored, *args, **kwargs)

    monkeypatch.setattr(hasher.context, "verify", spy)
    return seen


def test_unknown_user_costs_one_real_verify(monkeypatch):
    hasher = PasswordHasher(5)
    real_hash = hasher.hash("correct-horse-battery")
    seen = spy_on_verify(monkeypatch, hasher)

    assert hasher.verify("correct-horse-battery", real_hash) is True
    assert seen == [real_hash]
    seen.clear()

    for _ in range(2):  # the dummy hash is made once, then reused; each call still verifies once
        assert hasher.verify("correct-horse-battery", None) is False
        assert len(seen) == 1
        dummy = seen.pop()
        # The same scheme and cost as a real hash, so the dummy path costs about as much.
        assert dummy.startswith("$bcrypt-sha256$")
        assert not hasher.needs_update(dummy)


@pytest.mark.parametrize(
    "length",
    [
        8,
        1024,
        4083,
        4084,
        4096,
        4097,
        5000,
    ],
)
def test_unknown_user_runs_bcrypt_exactly_when_a_known_user_would(monkeypatch, hasher, length):
    """Count the bcrypt computations themselves: the timing defence is equal work, whatever the input."""
    known_hash = hasher.hash("correct-horse-battery")
    hasher.verify("warm-up", None)  # the dummy hash is made once; that one-off cost is not the point
    real_hashpw = bcrypt.hashpw
    calls: list[int] = []

    def counting_hashpw(password: bytes, salt: bytes) -> bytes:
        calls.append(1)
        return real_hashpw(password, salt)

    monkeypatch.setattr(bcrypt, "hashpw", counting_hashpw)
    attempt = "y" * length
    assert hasher.verify(attempt, known_hash) is False
    known_cost = len(calls)
    calls.clear()
    assert hasher.verify(attempt, None) is False
    assert len(calls) == known_cost


def test_needs_update_when_rounds_change():
    old_hash = PasswordHasher(4).hash("correct-horse-battery")
    assert PasswordHasher(4).needs_update(old_hash) is False
    assert PasswordHasher(5).needs_update(old_hash) is True


# --- PasswordHasher: a stored hash of another cost or scheme (issue 10, item 5) -----------------------
# The attack: a user whose hash was made at an old, lower cost answered in 9.7 ms, an unknown user in
# 412 ms (one verify of the dummy at the configured cost), so the clock told which usernames exist.
# Hash work is counted and its cost read from the hashes verified; nothing here reads a clock.

CONFIGURED_ROUNDS = 5


def rounds_of(password_hash: str) -> int | None:
    """The bcrypt cost of a ``bcrypt_sha256`` hash; None for another scheme or a malformed value."""
    if not bcrypt_sha256.identify(password_hash):
        return None
    try:
        return int(bcrypt_sha256.from_string(password_hash).rounds)
    except ValueError:
        return None


def at_configured_cost(seen: list[str]) -> list[str]:
    return [stored for stored in seen if (rounds_of(stored) or 0) >= CONFIGURED_ROUNDS]


def test_rounds_of_reads_the_cost_it_is_asked_about():
    """The helper the tests below lean on must itself be right, or they could not fail."""
    assert rounds_of(PasswordHasher(4).hash("x")) == 4
    assert rounds_of(PasswordHasher(CONFIGURED_ROUNDS).hash("x")) == CONFIGURED_ROUNDS
    assert rounds_of(bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode()) is None
    assert rounds_of("not-a-hash") is None


STORED_HASHES = {
    "old-cost-4-hash": lambda: PasswordHasher(4).hash("correct-horse-battery"),
    "other-scheme-plain-bcrypt-hash": lambda: bcrypt.hashpw(
        b"correct-horse-battery", bcrypt.gensalt(4)
    ).decode(),
    "malformed-hash": lambda: "$bcrypt-sha256$v=2,t=2b,r=4$garbage",
    "not-a-hash-at-all": lambda: "correct-horse-battery",
}


@pytest.mark.parametrize("attempt", ["correct-horse-battery", "wrong-password-1", "x" * 5000])
@pytest.mark.parametrize("stored_kind", STORED_HASHES)
def test_timing_attack_cheap_stored_hash_still_costs_a_verify_at_the_configured_cost(
    monkeypatch, stored_kind, attempt
):
    hasher = PasswordHasher(CONFIGURED_ROUNDS)
    stored = STORED_HASHES[stored_kind]()
    seen = spy_on_verify(monkeypatch, hasher)

    hasher.verify(attempt, stored)

    assert len(at_configured_cost(seen)) >= 1, seen  # as much as an unknown user's dummy verify
    assert stored in seen  # the real hash was checked too: the answer can only come from it


@pytest.mark.parametrize(
    ("attempt", "expected"), [("correct-horse-battery", True), ("wrong-password-1", False)]
)
def test_cheap_stored_hash_answer_comes_from_the_real_hash(attempt, expected):
    """The extra verify is of the dummy, whose password nobody knows: it must not decide the answer."""
    hasher = PasswordHasher(CONFIGURED_ROUNDS)
    assert hasher.verify(attempt, STORED_HASHES["old-cost-4-hash"]()) is expected


@pytest.mark.parametrize("stored_rounds", [CONFIGURED_ROUNDS, CONFIGURED_ROUNDS + 1])
def test_hash_at_or_above_the_configured_cost_costs_exactly_one_verify(monkeypatch, stored_rounds):
    """Control: only a cheaper hash gets the extra verify, so current hashes cost what they did."""
    hasher = PasswordHasher(CONFIGURED_ROUNDS)
    stored = PasswordHasher(stored_rounds).hash("correct-horse-battery")
    seen = spy_on_verify(monkeypatch, hasher)

    assert hasher.verify("wrong-password-1", stored) is False
    assert seen == [stored]
    assert rounds_of(seen[0]) == stored_rounds


# --- TokenCodec: what it mints --------------------------------------------------------------------


@pytest.mark.parametrize("token_type", ["access", "refresh"])
def test_round_trip(codec, token_type):
    now = utcnow()
    issued = codec.encode(subject="42", token_type=token_type, session_id="sid-42", now=now)
    claims = codec.decode(issued.token, expected_type=token_type)
    lifetime = ACCESS if token_type == "access" else REFRESH
    assert claims["sub"] == "42"
    assert claims["type"] == token_type
    assert claims["sid"] == "sid-42"
    assert claims["jti"] == issued.jti
    assert claims["iss"] == "authsvc"
    assert claims["aud"] == "authsvc"
    assert claims["iat"] == claims["nbf"] == int(now.timestamp())
    assert claims["exp"] == int(issued.expires_at.timestamp())
    assert issued.expires_at == now + lifetime


def test_every_required_claim_is_present(codec):
    claims = codec.decode(access_token(codec), expected_type="access")
    assert set(REQUIRED_CLAIMS) <= set(claims)
    assert isinstance(claims["sub"], str)


def test_each_token_gets_its_own_jti(codec):
    now = utcnow()
    first = codec.encode(subject="1", token_type="access", session_id="s", now=now)
    second = codec.encode(subject="1", token_type="access", session_id="s", now=now)
    assert first.jti != second.jti
    assert first.token != second.token


def test_header_is_jwt_hs256_with_the_secrets_kid(codec):
    """API.md section 5: every token names its key; an HS256 secret's kid is derived from it."""
    header = jwt.get_unverified_header(access_token(codec))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": secret_kid(SECRET)}
    assert ALGORITHM == "HS256"


# --- TokenCodec: what it refuses ------------------------------------------------------------------


def test_refuses_wrong_type(codec):
    access = access_token(codec)
    refresh = access_token(codec, token_type="refresh")
    with pytest.raises(TokenInvalid):
        codec.decode(access, expected_type="refresh")
    with pytest.raises(TokenInvalid):
        codec.decode(refresh, expected_type="access")


def test_refuses_wrong_secret(codec):
    token = access_token(make_codec(secret=OTHER_SECRET))
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_refuses_alg_none(codec, alg):
    header = b64url_json({"alg": alg, "typ": "JWT"})
    for signature in ("", b64url(b"anything")):
        token = f"{header}.{b64url_json(valid_claims())}.{signature}"
        with pytest.raises(TokenInvalid):
            codec.decode(token, expected_type="access")


def test_refuses_hs512_with_the_same_secret(codec):
    token = jwt.encode(valid_claims(), SECRET, algorithm="HS512", headers={"typ": "JWT"})
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


def test_refuses_a_kid_header(codec):
    token = jwt.encode(valid_claims(), SECRET, algorithm="HS256", headers={"typ": "JWT", "kid": "k1"})
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


def test_control_a_hand_made_token_is_accepted(codec):
    """The refusals below differ from this token in one thing only."""
    token = jwt.encode(valid_claims(), SECRET, algorithm="HS256", headers={"typ": "JWT"})
    assert codec.decode(token, expected_type="access")["sub"] == "1"


@pytest.mark.parametrize("change", [{"sub": "2"}, {"type": "refresh"}, {"exp": 4_102_444_800}])
def test_refuses_a_tampered_payload(codec, change):
    header, payload, signature = access_token(codec).split(".")
    claims = json.loads(b64url_decode(payload))
    claims.update(change)
    tampered = f"{header}.{b64url_json(claims)}.{signature}"
    with pytest.raises(TokenInvalid):
        codec.decode(tampered, expected_type=claims["type"])


@pytest.mark.parametrize("missing", REQUIRED_CLAIMS)
def test_refuses_a_missing_claim(codec, missing):
    claims = valid_claims()
    del claims[missing]
    token = jwt.encode(claims, SECRET, algorithm="HS256", headers={"typ": "JWT"})
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


@pytest.mark.parametrize(
    "sub", [1, "abc", "", "1.5", "١"], ids=["int", "letters", "empty", "float", "non-ascii"]
)
def test_refuses_a_subject_that_is_not_a_user_id_string(codec, sub):
    token = jwt.encode(valid_claims(sub=sub), SECRET, algorithm="HS256", headers={"typ": "JWT"})
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


def test_refuses_nbf_in_the_future(codec):
    claims = valid_claims()
    claims["nbf"] = claims["iat"] + 300
    token = jwt.encode(claims, SECRET, algorithm="HS256", headers={"typ": "JWT"})
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


def test_refuses_an_expired_token(codec):
    token = access_token(codec, now=utcnow() - ACCESS - timedelta(seconds=5))
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


def test_refuses_wrong_issuer(codec):
    token = access_token(make_codec(issuer="someone-else"))
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


def test_refuses_wrong_audience(codec):
    token = access_token(make_codec(audience="someone-else"))
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


def test_refuses_an_over_long_token(codec):
    # Correctly signed and otherwise valid: only its length is wrong.
    token = jwt.encode(
        valid_claims(padding="x" * MAX_TOKEN_LENGTH), SECRET, algorithm="HS256", headers={"typ": "JWT"}
    )
    assert len(token) > MAX_TOKEN_LENGTH
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "...", "x" * (MAX_TOKEN_LENGTH + 1)])
def test_refuses_garbage(codec, token):
    with pytest.raises(TokenInvalid):
        codec.decode(token, expected_type="access")


def test_leeway_lets_a_just_expired_token_through():
    token = access_token(make_codec(), now=utcnow() - ACCESS - timedelta(seconds=5))
    assert make_codec(leeway=60).decode(token, expected_type="access")["sub"] == "1"
    with pytest.raises(TokenInvalid):
        make_codec(leeway=0).decode(token, expected_type="access")


# --- TokenCodec: the cookie-mode CSRF value -------------------------------------------------------


def test_csrf_value_is_bound_to_the_token_and_the_secret(codec):
    value = codec.csrf_for("jti-1")
    assert value == codec.csrf_for("jti-1")  # nothing to store: it can be derived again
    assert value != codec.csrf_for("jti-2")
    assert value != make_codec(secret=OTHER_SECRET).csrf_for("jti-1")
    assert len(value) >= 40
    assert set(value) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )  # cookie-safe


# --- the cache of verified tokens -------------------------------------------------------------------


def test_a_verified_token_still_expires(codec, monkeypatch):
    """The cache skips the signature, never the clock: a token seen while live is refused after exp."""
    issued = codec.encode(subject="1", token_type="access", session_id="s", now=utcnow())
    claims = codec.decode(issued.token, expected_type="access")
    assert codec.decode(issued.token, expected_type="access") == claims  # now a hit
    later = claims["exp"] + codec.leeway + 1
    monkeypatch.setattr("authsvc.security.time.time", lambda: later)
    with pytest.raises(TokenInvalid):
        codec.decode(issued.token, expected_type="access")


def test_a_verified_token_is_not_yet_valid_before_nbf(codec, monkeypatch):
    issued = codec.encode(
        subject="1", token_type="access", session_id="s", now=utcnow() + timedelta(minutes=5)
    )
    monkeypatch.setattr("authsvc.security.time.time", lambda: (utcnow() + timedelta(minutes=6)).timestamp())
    monkeypatch.setattr("jwt.api_jwt.datetime", _Frozen(utcnow() + timedelta(minutes=6)))
    codec.decode(issued.token, expected_type="access")  # verified and cached at minute 6
    monkeypatch.setattr("authsvc.security.time.time", lambda: utcnow().timestamp())
    with pytest.raises(TokenInvalid):
        codec.decode(issued.token, expected_type="access")


class _Frozen:
    """Stands in for PyJWT's ``datetime`` module attribute, so it verifies as of a chosen moment."""

    def __init__(self, moment: Any) -> None:
        self.moment = moment

    def now(self, tz: Any = None) -> Any:
        return self.moment


def test_a_verified_token_keeps_its_type(codec):
    issued = codec.encode(subject="1", token_type="refresh", session_id="s", now=utcnow())
    codec.decode(issued.token, expected_type="refresh")
    with pytest.raises(TokenInvalid):
        codec.decode(issued.token, expected_type="access")


def test_an_altered_signature_is_never_a_hit(codec):
    issued = codec.encode(subject="1", token_type="access", session_id="s", now=utcnow())
    codec.decode(issued.token, expected_type="access")
    head, body, signature = issued.token.split(".")
    forged = f"{head}.{body}.{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}"
    with pytest.raises(TokenInvalid):
        codec.decode(forged, expected_type="access")


def test_callers_cannot_change_what_the_cache_holds(codec):
    issued = codec.encode(subject="1", token_type="access", session_id="s", now=utcnow())
    codec.decode(issued.token, expected_type="access")["sub"] = "2"
    assert codec.decode(issued.token, expected_type="access")["sub"] == "1"


def test_the_cache_is_bounded(codec, monkeypatch):
    tokens = [
        codec.encode(subject="1", token_type="access", session_id="s", now=utcnow()).token
        for _ in range(codec.verified.size + 10)
    ]
    for token in tokens:
        codec.decode(token, expected_type="access")
    assert len(codec.verified) == codec.verified.size
    calls = []
    real = jwt.api_jwt.decode_complete
    monkeypatch.setattr(jwt.api_jwt, "decode_complete", lambda *a, **k: calls.append(1) or real(*a, **k))
    codec.decode(tokens[-1], expected_type="access")
    assert calls == []  # the newest is still a hit
    codec.decode(tokens[0], expected_type="access")
    assert calls == [1]  # the oldest went first


def test_the_cache_keeps_no_token_text(codec):
    """A full cache is the working level of every worker's memory (docs/reliability.md): it keeps a
    token's SHA-256 and its claims, not the 400-odd characters of the token itself."""
    token = codec.encode(subject="1", token_type="access", session_id="s", now=utcnow()).token
    references = sys.getrefcount(token)
    codec.decode(token, expected_type="access")
    assert len(codec.verified) == 1
    assert sys.getrefcount(token) == references


def test_a_hit_gives_the_claims_a_full_verification_gave(codec):
    issued = codec.encode(subject="7", token_type="access", session_id="s", now=utcnow())
    verified = codec.decode(issued.token, expected_type="access")
    hit = codec.decode(issued.token, expected_type="access")
    assert hit == verified and list(hit) == list(verified)
    assert hit is not verified


def test_a_token_tried_as_the_wrong_type_first_is_verified_once(codec, monkeypatch):
    """Introspection without a hint tries access, then refresh: one signature check, not two."""
    calls = []
    real = jwt.api_jwt.decode_complete
    monkeypatch.setattr(jwt.api_jwt, "decode_complete", lambda *a, **k: calls.append(1) or real(*a, **k))
    issued = codec.encode(subject="1", token_type="refresh", session_id="s", now=utcnow())
    with pytest.raises(TokenInvalid):
        codec.decode(issued.token, expected_type="access")
    assert codec.decode(issued.token, expected_type="refresh")["type"] == "refresh"
    assert len(calls) == 1


def test_a_token_is_hashed_once_a_decode(codec, monkeypatch):
    """The digest keys both the lookup and, on a miss, the entry added: one SHA-256, not two."""
    calls = []
    real = security._digest
    monkeypatch.setattr(security, "_digest", lambda token: calls.append(1) or real(token))
    issued = codec.encode(subject="1", token_type="access", session_id="s", now=utcnow())
    codec.decode(issued.token, expected_type="access")  # a miss: verified, then kept
    codec.decode(issued.token, expected_type="access")  # a hit
    assert calls == [1, 1]
