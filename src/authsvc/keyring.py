"""The key set one process signs and verifies with, reloaded so that a rotation made anywhere reaches it.

The set is an immutable snapshot swapped whole, so a request thread reads it without a lock; only a
reload takes the lock. Reloads happen lazily, on use: at least every ``reload_interval`` seconds, and
when a token names an unknown ``kid``, at most once per ``unknown_kid_interval`` seconds whatever the
kid (a flood of made-up kids costs one database read per interval, not one per request).
No database here: the loader is a callable handed in (``services/keys.py`` makes it).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from authsvc.domain import KEY_STATE_ORDER, KeyState
from authsvc.keys import HS256, PrivateKey, fits, public_jwk, secret_kid

log = logging.getLogger("authsvc")


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One stored key pair, opened: what the loader returns for each ``signing_key`` row."""

    kid: str
    algorithm: str
    state: str
    private_key: PrivateKey


@dataclass(frozen=True, slots=True)
class Key:
    """A key to sign or verify with: ``material`` is an HS256 secret or a cryptography key object."""

    kid: str
    algorithm: str
    material: Any


@dataclass(frozen=True, slots=True)
class KeySet:
    signer: Key | None
    verifiers: Mapping[str, Key]
    published: tuple[dict[str, str], ...] = ()


class NoSigningKey(RuntimeError):
    """The configured asymmetric algorithm has no current key (its loader could not make one)."""


Loader = Callable[[], Sequence[StoredKey]]


@dataclass(eq=False)
class KeyRing:
    """HS256 secrets from the settings plus the stored key pairs; see the module docstring."""

    algorithm: str
    secret: str
    previous_secrets: Sequence[str] = ()
    loader: Loader | None = None
    reload_interval: float = 60.0
    unknown_kid_interval: float = 10.0
    clock: Callable[[], float] = time.monotonic
    legacy: Key | None = field(init=False, repr=False)
    _secrets: dict[str, Key] = field(init=False, repr=False)
    _set: KeySet = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _due: float = field(init=False, repr=False)
    _next_unknown: float = field(init=False, repr=False, default=-math.inf)
    _loaded: bool = field(init=False, repr=False, default=False)

    def __post_init__(self) -> None:
        self._secrets = {}
        for secret in (self.secret, *self.previous_secrets):
            key = Key(secret_kid(secret), HS256, secret)
            self._secrets.setdefault(key.kid, key)
        # A token without a kid (minted before kids existed) is checked against the secret alone.
        self.legacy = Key("", HS256, self.secret) if self.algorithm == HS256 else None
        self._set = self._build(())
        self._due = -math.inf if self.loader is not None else math.inf

    # --- what the codec asks ---

    def signer(self) -> Key:
        """The key that signs: the HS256 secret, or the current stored key of the configured algorithm."""
        self._reload_if_due()
        signer = self._set.signer
        if signer is None:  # never loaded (the database was down) or made: try now, errors and all
            with self._lock:
                if self._set.signer is None:
                    self._load()
            signer = self._set.signer
            if signer is None:
                raise NoSigningKey(f"no current {self.algorithm} key is stored: run flask init-db")
        return signer

    def verifier(self, kid: str) -> Key | None:
        """The key named ``kid`` (a dict lookup), after one throttled reload if it is unknown."""
        self._reload_if_due()
        found = self._set.verifiers.get(kid)
        if found is None and self.loader is not None:
            self._reload_for_unknown()
            found = self._set.verifiers.get(kid)
        return found

    def published(self) -> tuple[dict[str, str], ...]:
        """The public JWKs of every stored key (next, current, retired): what the JWKS serves."""
        self._reload_if_due()
        return self._set.published

    def reload(self) -> None:
        """Load now (start-up and commands); the loader's errors propagate."""
        with self._lock:
            self._load()

    # --- reloading ---

    def _reload_if_due(self) -> None:
        if self.clock() < self._due:
            return
        # Another thread already reloading: carry on with the set we have rather than queue.
        if self._lock.acquire(blocking=not self._loaded):
            try:
                if self.clock() >= self._due:
                    self._load_logging_failure()
            finally:
                self._lock.release()

    def _reload_for_unknown(self) -> None:
        with self._lock:  # a thread that waited here finds the set another thread just loaded
            now = self.clock()
            if now < self._next_unknown:
                return
            self._next_unknown = now + self.unknown_kid_interval
            self._load_logging_failure()

    def _load_logging_failure(self) -> None:
        try:
            self._load()
        except Exception as error:  # a failed reload keeps the set we had; a request still works
            log.warning("signing keys not reloaded: %s", type(error).__name__)

    def _load(self) -> None:
        """Read the stored keys and swap the new set in (caller holds the lock)."""
        assert self.loader is not None
        # Set first: a failing database is retried once per interval, not on every request.
        self._due = self.clock() + self.reload_interval
        stored = self.loader()
        self._set = self._build(stored)
        self._loaded = True

    def _build(self, stored: Sequence[StoredKey]) -> KeySet:
        verifiers = dict(self._secrets)
        signer = verifiers[secret_kid(self.secret)] if self.algorithm == HS256 else None
        published = []
        for key in sorted(stored, key=lambda k: KEY_STATE_ORDER.get(k.state, 3)):
            jwk = public_jwk(key.private_key, key.algorithm) if fits(key.algorithm, key.private_key) else None
            if jwk is None or jwk["kid"] != key.kid:  # a row edited by hand: never trust its name
                log.warning("signing key %s does not match its algorithm or kid: ignored", key.kid)
                continue
            verifiers[key.kid] = Key(key.kid, key.algorithm, key.private_key.public_key())
            published.append(jwk)
            if key.state == KeyState.CURRENT and key.algorithm == self.algorithm:
                signer = Key(key.kid, key.algorithm, key.private_key)
        return KeySet(signer=signer, verifiers=verifiers, published=tuple(published))
