"""``TokenVerifier``: a resource server's check of authsvc access tokens.

Locally, against the JWKS: the signature with the key the ``kid`` names, under that key's own
algorithm; then ``type == "access"``, ``iss``, ``aud``, ``exp`` and ``nbf`` (with ``leeway``). A
token checked that way stays good until it expires even after its user signs out, so a service that
must see revocations at once adds ``introspection``: each token that passes locally is then asked
about (RFC 7662), and each answer kept for ``cache_seconds``. Introspection also brings the user's
``role`` and ``username``, which authsvc's access tokens do not carry.

Every token also states how its session signed in: ``amr`` (``["pwd"]``, or ``["pwd", "otp"]`` after
a second factor) and ``aal`` (1 or 2; API.md section 7). ``aal=2`` (on the verifier, or per call)
refuses a token below that level with ``InsufficientLevel``, a kind of ``InvalidToken`` that a
resource server answers with 403 ``aal2_required`` rather than 401: the caller is signed in, just
not strongly enough.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import jwt

from authsvc_client.jwks import JwksCache, VerifierUnavailable
from authsvc_client.models import Introspection

MAX_TOKEN = 8192
ALLOWED_HEADER = frozenset({"alg", "typ", "kid"})  # as authsvc: no jku/x5u/jwk/x5c/crit pointing elsewhere
REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "sid", "type"]
CACHE_LIMIT = 10_000


class InvalidToken(Exception):
    """The token is not a live access token of this authsvc; ``reason`` is for logs, not for callers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InsufficientLevel(InvalidToken):
    """A live access token whose session signed in below the level asked for.

    ``code`` is authsvc's own for the refusal (``aal2_required``); ``required`` and ``actual`` are the
    two levels. Catching ``InvalidToken`` alone still refuses such a token (as 401).
    """

    def __init__(self, required: int, actual: int) -> None:
        super().__init__(f"aal {actual} is below the required {required}")
        self.required, self.actual = required, actual
        self.code = f"aal{required}_required"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """A verified access token. ``role`` and ``username`` are set only by introspection.

    ``amr`` and ``aal`` say how the session signed in; a token without them (minted before authsvc
    had levels) is ``aal`` 1 with no ``amr``.
    """

    sub: str
    sid: str
    jti: str
    iat: int
    exp: int
    iss: str
    aud: str | list[str]
    role: str | None = None
    username: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    amr: tuple[str, ...] = ()
    aal: int = 1

    @property
    def user_id(self) -> int:
        return int(self.sub)


@dataclass(frozen=True, slots=True)
class IntrospectionConfig:
    """Where and as which service client (``flask clients create``) to ask authsvc."""

    url: str
    client_id: str
    client_secret: str
    cache_seconds: float = 5.0


class TokenVerifier:
    """Verifies authsvc access tokens; thread-safe, one instance per process.

    ``introspection`` is an ``IntrospectionConfig`` or ``(url, client_id, client_secret)``; ``aal`` is
    the level every ``verify`` demands unless told otherwise (1: any live token).
    ``unknown_kid_interval`` and the two clocks (``clock`` for ``exp``/``nbf`` and the answer cache,
    ``monotonic`` for the JWKS) are there for tests.
    """

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        *,
        leeway: float = 0.0,
        aal: int = 1,
        introspection: IntrospectionConfig | tuple[str, str, str] | None = None,
        unknown_kid_interval: float = 10.0,
        jwks_max_age: float = 600.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        http: httpx.Client | None = None,
    ) -> None:
        self.issuer, self.audience, self.leeway = issuer, audience, leeway
        self.aal = required_level(aal)
        self._clock = clock
        self._owned = http is None
        self._http = http or httpx.Client(timeout=5.0)
        self.keys = JwksCache(
            jwks_url,
            min_interval=unknown_kid_interval,
            max_age=jwks_max_age,
            clock=monotonic,
            http=self._http,
        )
        if isinstance(introspection, tuple):
            introspection = IntrospectionConfig(*introspection)
        self.introspection = introspection
        self._answers: dict[str, tuple[float, Introspection]] = {}
        self._answers_lock = threading.Lock()
        self.introspections = 0

    def close(self) -> None:
        """Close the HTTP client the verifier made for itself (not one it was given)."""
        if self._owned:
            self._http.close()

    def __enter__(self) -> TokenVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verify(self, token: str, *, aal: int | None = None) -> AccessClaims:
        """The token's claims, or ``InvalidToken``; ``VerifierUnavailable`` when authsvc cannot say.

        A live token below ``aal`` (else the verifier's own ``aal``) raises ``InsufficientLevel``. The
        level is checked last, so a dead or forged token is always ``InvalidToken`` itself.
        """
        required = self.aal if aal is None else required_level(aal)
        claims = self._verify_locally(token)
        if self.introspection is not None:
            answer = self._introspect(token, claims)
            if not answer.active or answer.token_type != "access" or answer.sub != claims.sub:
                raise InvalidToken("not live (introspection)")
            claims = replace(claims, role=answer.role, username=answer.username)
        if claims.aal < required:
            raise InsufficientLevel(required, claims.aal)
        return claims

    def _verify_locally(self, token: str) -> AccessClaims:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
            raise InvalidToken("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed") from None
        kid = header.get("kid")
        if not isinstance(kid, str) or not set(header) <= ALLOWED_HEADER:
            raise InvalidToken("header: no kid, or fields beyond alg, typ and kid")
        key = self.keys.get(kid)
        if key is None:
            raise InvalidToken("unknown kid")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],  # the key's own, never the token's alone
                issuer=self.issuer,
                audience=self.audience,
                # exp and nbf are checked below, on the injectable clock, with the leeway
                options={"require": REQUIRED, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(type(error).__name__) from None
        now = self._clock()
        if not isinstance(claims["exp"], int) or now > claims["exp"] + self.leeway:
            raise InvalidToken("expired")
        if not isinstance(claims["nbf"], int) or now + self.leeway < claims["nbf"]:
            raise InvalidToken("not yet valid")
        if claims["type"] != "access":
            raise InvalidToken("not an access token")
        if not all(isinstance(claims[name], str) for name in ("sub", "sid", "jti")):
            raise InvalidToken("malformed claims")
        aal, amr = claims.get("aal", 1), claims.get("amr", [])
        if type(aal) is not int or aal < 1:  # type(): True is an int, and no level
            raise InvalidToken("malformed aal")
        if not isinstance(amr, list) or not all(isinstance(method, str) for method in amr):
            raise InvalidToken("malformed amr")
        return AccessClaims(
            sub=claims["sub"],
            sid=claims["sid"],
            jti=claims["jti"],
            iat=int(claims["iat"]),
            exp=claims["exp"],
            iss=claims["iss"],
            aud=claims["aud"],
            raw=claims,
            amr=tuple(amr),
            aal=aal,
        )

    def _introspect(self, token: str, claims: AccessClaims) -> Introspection:
        """authsvc's answer about ``token``, from the cache when it is at most ``cache_seconds`` old.

        The cache is keyed by the token's SHA-256, so it holds no usable token.
        """
        config = self.introspection
        assert config is not None
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._answers_lock:
            kept = self._answers.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        try:
            response = self._http.post(
                config.url, data={"token": token, "token_type_hint": "access_token"},
                auth=(config.client_id, config.client_secret),
            )  # fmt: skip
        except httpx.HTTPError as error:
            raise VerifierUnavailable(f"introspection failed: {error}") from None
        if response.status_code != 200:
            raise VerifierUnavailable(f"introspection answered {response.status_code}")
        answer = Introspection.from_json(response.json())
        self.introspections += 1
        until = min(now + config.cache_seconds, claims.exp + self.leeway)
        with self._answers_lock:
            if len(self._answers) >= CACHE_LIMIT:
                self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
                if len(self._answers) >= CACHE_LIMIT:
                    self._answers.clear()
            self._answers[key] = (until, answer)
        return answer


def required_level(aal: int) -> int:
    """``aal`` itself when it can be demanded (an int of 1 or more), else ``ValueError``."""
    if type(aal) is not int or aal < 1:
        raise ValueError(f"aal must be a level of 1 or more, not {aal!r}")
    return aal
