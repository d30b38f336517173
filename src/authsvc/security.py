"""Pure security primitives: password hashing and JWT encoding. No Flask, no database.

Which key signs and which keys verify is the key ring's business (``keyring.py``); the codec asks it
for the signer when minting and for the key a token's ``kid`` names when checking.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import jwt
from passlib.context import CryptContext

from authsvc.config import Settings
from authsvc.domain import MAX_ID, PASSWORD, Level
from authsvc.exceptions import TokenInvalid
from authsvc.keyring import Key, KeyRing, Loader

ALGORITHM = "HS256"  # the default, and the algorithm of the secrets
TOKEN_HEADER = {"typ": "JWT"}
# The only header members we mint; anything else (jku, x5u, jwk, x5c, crit, ...) is refused outright,
# so no token can point us at a key of its own choosing.
ALLOWED_HEADER = frozenset({"alg", "typ", "kid"})
MAX_KID_LENGTH = 64
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "jti", "sub", "type", "sid", "iss", "aud"]
# The user's credentials version the token was minted under (see ``User.credentials_version``).
# Tokens minted before the claim existed carry none: they belong to version 0, the column's default.
CREDENTIALS_CLAIM = "cv"
MAX_TOKEN_LENGTH = 4096  # far above any token we mint; longer input is refused before decoding

TokenType = Literal["access", "refresh"]
TOKEN_TYPES: tuple[str, ...] = get_args(TokenType)  # a tuple: `in` compares, never hashes, a claim


class PasswordHasher:
    """bcrypt through passlib's ``bcrypt_sha256``: every character counts, none is cut at 72 bytes."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.context = CryptContext(schemes=["bcrypt_sha256"], bcrypt_sha256__rounds=rounds)
        # Made up front so that even the first unknown username costs exactly one verify.
        self._dummy_hash = self.context.hash(uuid.uuid4().hex)

    def hash(self, password: str) -> str:
        return self.context.hash(password)

    def verify(self, password: str, password_hash: str | None) -> bool:
        """Check a password; every check costs at least one verify at the configured cost.

        Equal work for known and unknown usernames means response time does not reveal which exist.
        An unknown user (no hash) is checked against a dummy hash instead. A stored hash cheaper than
        the configured cost (made before ``FLASK_BCRYPT_ROUNDS`` was raised, or of another scheme, or
        malformed) would answer faster than the dummy, so the dummy is verified as well; the answer
        still comes from the stored hash alone. passlib raises on an over-long password; that is a
        failed check, not an error.
        """
        if password_hash is None:
            # The dummy's password is a random secret nobody knows: no match, the same work.
            password_hash = self._dummy_hash
        elif self._cheaper_than_configured(password_hash):
            self._check(password, self._dummy_hash)
        return self._check(password, password_hash)

    def _check(self, password: str, password_hash: str) -> bool:
        try:
            return self.context.verify(password, password_hash)
        except ValueError:
            return False

    def _cheaper_than_configured(self, password_hash: str) -> bool:
        """Whether verifying this hash costs less than one verify at the configured cost.

        Not ``needs_update``: that is also true of a costlier hash, whose verify already costs more
        than the dummy's (another verify would only widen the gap), and it raises on another scheme.
        """
        handler = self.context.handler()
        if not handler.identify(password_hash):
            return True
        try:
            return int(handler.from_string(password_hash).rounds) < self.rounds
        except ValueError:
            return True

    def needs_update(self, password_hash: str) -> bool:
        return self.context.needs_update(password_hash)


CLIENT_ID_BYTES = 16  # 22 characters of A-Za-z0-9-_
CLIENT_SECRET_BYTES = 32  # 43 characters: 256 random bits
CLIENT_SECRET_SCHEME = "sha256$"  # stored before the digest, so another scheme can follow one day


def new_client_credentials() -> tuple[str, str]:
    """A service client's id and secret, both ``secrets.token_urlsafe`` (only ``A-Za-z0-9-_``, no
    padding), so neither changes when form-urlencoded for HTTP Basic (RFC 6749 section 2.3.1)."""
    return secrets.token_urlsafe(CLIENT_ID_BYTES), secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def client_secret_hash(secret: str) -> str:
    """What is stored of a service client's secret: one SHA-256, not bcrypt.

    bcrypt's cost exists to slow down guessing a password a person chose, from a few billion likely
    ones. A client secret is 256 random bits: no one can enumerate them, fast hash or not, and SHA-256
    is a one-way function, so a stolen table still yields no secret. bcrypt would instead put ~250 ms
    of CPU (cost 12) on every introspection call, making the endpoint meant for high-volume
    service-to-service checks slow and an easy way to exhaust the workers. Not keyed with
    ``FLASK_SECRET_KEY`` either: nothing is gained against a 256-bit secret, and rotating that key
    would then silently lock out every service. (The one-time tokens of email links are stored the
    same way, for the same reason.) Compare results with ``hmac.compare_digest``.
    """
    digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
    return CLIENT_SECRET_SCHEME + digest


# Tokens whose signature and fixed claims were verified, kept per process: an ES256 or Ed25519
# verification costs 80-130 us, about a tenth of a whole whoami (docs/benchmarks.md).
ONE_TIME_TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 characters of A-Za-z0-9-_, 256 random bits
ONE_TIME_TOKEN_LENGTH = 43


def new_one_time_token() -> tuple[str, str]:
    """A mailed link's token and the hash that is all the database keeps of it."""
    token = secrets.token_urlsafe(ONE_TIME_TOKEN_BYTES)
    return token, one_time_hash(token)


def one_time_hash(token: str) -> str:
    """One SHA-256, for the reason ``client_secret_hash`` gives: 256 random bits need no slow hash."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


VERIFIED_TOKENS = 4096


class VerifiedTokens:
    """A bounded map from the SHA-256 of a token's whole text (signature included) to its claims.

    Keyed by the digest, a forged or altered token can never be a hit (it would take a
    collision). An entry also remembers the key that verified it and only counts while the ring still
    hands out that very key for the kid, so a pruned or reloaded key sends its tokens back through
    full verification. Never a substitute for the revocation lookup, which every request still makes.
    Reads take no lock; the oldest entry goes first when full.

    A full cache is part of every worker's working memory, and a worker fills it at the pace of the
    distinct tokens its own clients bring (docs/reliability.md). So an entry is kept small: the 32
    bytes of the digest rather than the 400-odd characters of the token, and the claims' values as a
    tuple under a tuple of names that tokens minted alike share: about 0.9 KB, where the text and a
    dict took 2.3 KB (``uv run python -m bench.token_cache``).
    """

    # Claim-name tuples shared between entries; only verified tokens reach it, and this service mints
    # a handful of shapes, so the bound is never met in practice (past it a tuple is simply not shared).
    SHAPES = 64

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[bytes, tuple[Key, tuple[str, ...], tuple[Any, ...]]] = {}
        self._shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def get(self, digest: bytes, key: Key) -> dict[str, Any] | None:
        """The claims of the token whose ``_digest`` this is, as a new dict (the caller's), or None."""
        entry = self._entries.get(digest)
        if entry is None or entry[0] is not key:
            return None
        return dict(zip(entry[1], entry[2], strict=True))

    def add(self, digest: bytes, key: Key, claims: dict[str, Any]) -> None:
        names, values = tuple(claims), tuple(claims.values())
        with self._lock:
            if len(self._shapes) < self.SHAPES:
                names = self._shapes.setdefault(names, names)
            else:
                names = self._shapes.get(names, names)
            self._entries[digest] = (key, names, values)
            while len(self._entries) > self.size:
                del self._entries[next(iter(self._entries))]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _digest(token: str) -> bytes:
    # A token that got this far is under MAX_TOKEN_LENGTH and was sent as text; surrogatepass keeps a
    # lone surrogate from raising here (it is refused by verification, as before).
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenCodec:
    """Mints and checks JWTs; every claim of docs/api.md is set and required, every header has a kid.

    Built without ``keys`` it signs and verifies with ``secret`` alone (HS256), as tests make it.
    """

    secret: str
    issuer: str
    audience: str
    access_lifetime: timedelta
    refresh_lifetime: timedelta
    leeway: int = 0
    keys: KeyRing | None = None
    ring: KeyRing = field(init=False, repr=False, compare=False)
    verified: VerifiedTokens = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A frozen dataclass sets its derived fields this way.
        object.__setattr__(self, "ring", self.keys or KeyRing(algorithm=ALGORITHM, secret=self.secret))
        object.__setattr__(self, "verified", VerifiedTokens(VERIFIED_TOKENS))

    def encode(
        self,
        *,
        subject: str,
        token_type: TokenType,
        session_id: str,
        now: datetime,
        jti: str | None = None,
        credentials_version: int = 0,
        level: Level = PASSWORD,
    ) -> IssuedToken:
        lifetime = self.access_lifetime if token_type == "access" else self.refresh_lifetime
        jti = jti or uuid.uuid4().hex
        expires_at = now + lifetime
        issued = int(now.timestamp())
        claims = {
            "sub": subject,
            "jti": jti,
            "iat": issued,
            "nbf": issued,
            "exp": int(expires_at.timestamp()),
            "type": token_type,
            "sid": session_id,
            "iss": self.issuer,
            "aud": self.audience,
            CREDENTIALS_CLAIM: credentials_version,
            "amr": list(level.amr),
            "aal": level.aal,
        }
        signer = self.ring.signer()
        headers = {**TOKEN_HEADER, "kid": signer.kid}
        token = jwt.encode(claims, signer.material, algorithm=signer.algorithm, headers=headers)
        return IssuedToken(token=token, jti=jti, expires_at=expires_at)

    @classmethod
    def from_settings(cls, settings: Settings, loader: Loader | None = None) -> TokenCodec:
        """The codec of these settings; ``loader`` reads the stored key pairs (none: secrets only)."""
        ring = KeyRing(
            algorithm=settings.jwt_algorithm,
            secret=settings.jwt_secret_key,
            previous_secrets=settings.previous_secret_list,
            loader=loader,
            reload_interval=settings.jwt_keys_reload_interval,
            unknown_kid_interval=settings.jwt_keys_unknown_kid_interval,
        )
        return cls(
            secret=settings.jwt_secret_key,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_lifetime=settings.access_lifetime,
            refresh_lifetime=settings.refresh_lifetime,
            leeway=settings.jwt_leeway,
            keys=ring,
        )

    def csrf_for(self, refresh_jti: str) -> str:
        """The CSRF value that goes with one refresh token in cookie mode.

        Derived from the token's id with the signing secret, so a value planted by another site
        (cookie tossing) cannot match, and nothing extra has to be stored.
        """
        digest = hmac.new(self.secret.encode(), b"csrf:" + refresh_jti.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def decode(self, token: str, *, expected_type: TokenType) -> dict[str, Any]:
        """Verify signature, algorithm, claims and type; any failure is one ``TokenInvalid``.

        The key is the one the header's ``kid`` names (a dict lookup), and the algorithm is that
        key's, never the header's: a token saying ``HS256`` under an ES256 key's kid is refused by
        the one ``decode_complete`` below, so a public key can never serve as an HMAC secret.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenInvalid()
        kid = _kid_of(token)
        key = self._key_for(kid)
        digest = _digest(token)  # keys the lookup and, on a miss, the entry: hashed once
        seen = self.verified.get(digest, key)
        if seen is not None:
            return self._still_valid(seen, expected_type)
        try:
            decoded = jwt.api_jwt.decode_complete(
                token,
                key.material,
                algorithms=[key.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except (jwt.PyJWTError, RecursionError):
            raise TokenInvalid() from None
        header: dict[str, Any] = decoded["header"]
        claims: dict[str, Any] = decoded["payload"]
        # Only what we mint: typ JWT, no member that could name a key (jku, x5u, jwk, ...).
        if not header.keys() <= ALLOWED_HEADER or header.get("typ", "JWT") != "JWT":
            raise TokenInvalid()
        if (
            claims["type"] not in TOKEN_TYPES
            or not isinstance(claims["sid"], str)
            or not isinstance(claims["jti"], str)
            or not _is_id(claims["sub"])
            or not _is_version(claims.setdefault(CREDENTIALS_CLAIM, 0))
        ):
            raise TokenInvalid()
        # Kept whatever type was asked for: a token tried as one type and then the other (an
        # introspection without a hint, a refresh token sent to whoami) is verified only once.
        self.verified.add(digest, key, claims)
        return self._still_valid(claims, expected_type)

    def _still_valid(self, claims: dict[str, Any], expected_type: TokenType) -> dict[str, Any]:
        """A token verified before: what can change since is the time, so its window is checked
        again (as PyJWT checks it, with the same leeway), and the type asked for. ``claims`` is the
        caller's own (the cache keeps none of it), so it is handed on as it is."""
        now = time.time()
        if (
            claims["type"] != expected_type
            or claims["exp"] <= now - self.leeway
            or claims["nbf"] > now + self.leeway
        ):
            raise TokenInvalid()
        return claims

    def _key_for(self, kid: str | None) -> Key:
        """The key a token's kid names; no kid means the HS256 secret alone, and only under HS256."""
        key = self.ring.legacy if kid is None else self.ring.verifier(kid)
        if key is None:
            raise TokenInvalid()
        return key


def _kid_of(token: str) -> str | None:
    """The header's ``kid``, read to choose the key before the one full decode checks everything.

    The header is parsed the way PyJWT parses it (the same base64url and JSON), so the kid chosen here
    is the one the verified header carries.
    """
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise TokenInvalid() from None
    if not isinstance(header, dict):
        raise TokenInvalid()
    kid = header.get("kid")
    if kid is not None and not (isinstance(kid, str) and 0 < len(kid) <= MAX_KID_LENGTH):
        raise TokenInvalid()
    return kid


def expiry_of(claims: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(claims["exp"], UTC)


def _is_id(subject: object) -> bool:
    """A user id as a string of ASCII digits, within the range the id column can hold."""
    return (
        isinstance(subject, str)
        and subject.isascii()
        and subject.isdigit()
        and len(subject) <= 10
        and 0 < int(subject) <= MAX_ID
    )


def _is_version(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_ID
