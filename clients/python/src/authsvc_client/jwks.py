"""The JWKS of one authsvc, fetched and cached for ``TokenVerifier``.

The keys are refetched when they are older than ``max_age`` (authsvc's ``Cache-Control`` says 600 s)
and when a token names an unknown ``kid``, but never more than once per ``min_interval`` (10 s),
whatever the ``kid``: otherwise a flood of tokens with made-up ``kid``\\s would turn every forged
request into a request to authsvc. A key is used only with the algorithm it declares itself, and
only if that is an asymmetric one: never HS256 (whose "key" would be public), never the token's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

log = logging.getLogger("authsvc_client")

ASYMMETRIC = frozenset(
    {"EdDSA", "Ed25519", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)


class VerifierUnavailable(Exception):
    """authsvc's keys (or its introspection endpoint) could not be reached: no answer either way."""


def parse_jwks(body: Any) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by ``kid``; anything else is skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    entries = body.get("keys") if isinstance(body, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        alg = entry.get("alg")
        if alg not in ASYMMETRIC or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=alg)
        except jwt.PyJWTError:  # a key of another kind than its alg says, or one PyJWT cannot read
            continue
    return keys


class JwksCache:
    """Keys by ``kid``, thread-safe, with at most one fetch in flight and one per ``min_interval``."""

    def __init__(
        self,
        url: str,
        *,
        min_interval: float = 10.0,
        max_age: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        http: httpx.Client | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self._min_interval, self._max_age, self._clock = min_interval, max_age, clock
        self._http = http or httpx.Client(timeout=timeout)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._tried_at: float | None = None  # last attempt, successful or not: the rate limit
        self._lock = threading.Lock()
        self.fetches = 0

    def get(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``, fetching the set first when allowed and needed; ``None`` if unknown.

        Raises ``VerifierUnavailable`` only when no key set was ever fetched.
        """
        key = self._keys.get(kid)
        if key is not None and not self._stale():
            return key
        with self._lock:  # one fetch at a time; the others wait for it and read its result
            if (kid not in self._keys or self._stale()) and self._may_fetch():
                self._fetch()
            if self._fetched_at is None:
                raise VerifierUnavailable(f"could not fetch {self.url}")
            return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._max_age

    def _may_fetch(self) -> bool:
        return self._tried_at is None or self._clock() - self._tried_at >= self._min_interval

    def _fetch(self) -> None:
        self._tried_at = self._clock()
        self.fetches += 1
        try:
            response = self._http.get(self.url)
            response.raise_for_status()
            keys = parse_jwks(response.json())
        except (httpx.HTTPError, ValueError) as error:
            log.warning(
                "authsvc_client: JWKS fetch from %s failed (%s); keeping the keys held", self.url, error
            )
            return
        self._keys, self._fetched_at = keys, self._clock()
