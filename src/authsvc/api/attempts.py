"""Password-check budgets, taken *before* the password is checked so that N parallel guesses cost N.

Flask-Limiter's ``deduct_when`` tests a limit before the request and counts it after the answer, so
every guess already in flight passes (60 parallel wrong passwords all got a 401 against 5/min).
Here each attempt takes one unit of every budget that applies as it starts (an atomic increment in
the shared storage), and gives back what its outcome does not spend:

- a wrong password keeps the failure budgets (per account and per client address) spent;
- a right one gives them back, and keeps one unit of the account's budget of successful sign-ins,
  which bounds the hashing and the sessions one account can cause;
- anything else (a database outage, a refused new password) gives everything back.

Counts live in fixed windows, whose counters are the only ones that can give a unit back through
the storage's public API; at a window's edge an attacker can get at most twice a limit in a row.
An unreachable shared storage falls back to per-process memory instead of locking everyone out.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar, cast

from flask import Flask, current_app
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from authsvc.api.limits import client_key
from authsvc.config import Settings
from authsvc.domain import username_key
from authsvc.exceptions import InvalidClient, InvalidCredentials, RateLimitUnavailable

log = logging.getLogger("authsvc")
EXTENSION = "authsvc.attempts"
PREFIX = "authsvc-attempt"
RECHECK_SECONDS = 5.0  # while the shared storage is down, try it again this often
T = TypeVar("T")


def account_key(username: str) -> str:
    """The account a password check targets, compared the way sign-in compares names.

    Hashed, so no user input ever reaches a storage key or a log line, and every key is short.
    """
    folded = username_key(username).encode("utf-8", "surrogatepass")
    return hashlib.sha256(folded).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class _Unit:
    item: RateLimitItem
    ids: tuple[str, ...]


class Budgets:
    """The budgets of one app, in the configured storage (memory, or Redis shared by processes)."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.ratelimit_enabled
        self.failed_per_account = parse_many(settings.ratelimit_login_username)
        self.failed_per_ip = parse_many(settings.ratelimit_login_ip)
        self.succeeded_per_account = parse_many(settings.ratelimit_login_success)
        self.mail_per_address = parse_many(settings.ratelimit_forgot_address)
        uri = settings.ratelimit_storage_uri
        # A Redis that stops answering must cost a sign-in a second, not a hung worker.
        options = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0} if uri.startswith("redis") else {}
        # A synchronous storage: config.py refuses the async+ schemes, which never work in Flask.
        self._storage = cast(Storage, storage_from_string(uri, **options))
        self._fallback = MemoryStorage()
        self._down_since: float | None = None
        self.fail_closed = settings.ratelimit_fail_closed

    @contextmanager
    def attempt(self, username: str, *, sign_in: bool) -> Iterator[None]:
        """Take the budgets of one password check, then settle them by its outcome.

        ``sign_in`` also takes a unit of the account's successful sign-ins. Refused: 429 with
        ``Retry-After``, before any password work is done.
        """
        if not self.enabled:
            yield
            return
        account = account_key(username)
        failure = [_Unit(item, ("failed-account", account)) for item in self.failed_per_account]
        failure += [_Unit(item, ("failed-ip", client_key())) for item in self.failed_per_ip]
        success = (
            [_Unit(item, ("signed-in", account)) for item in self.succeeded_per_account] if sign_in else []
        )
        with self._settled(failure, success, refused=InvalidCredentials):
            yield

    def mail_allowed(self, purpose: str, address: str) -> bool:
        """Take one unit of an address's budget of mailed links (FLASK_RATELIMIT_FORGOT_ADDRESS):
        ``False`` once it is spent. Silent: the caller answers exactly as if it were allowed, so the
        budget neither tells which addresses exist nor lets anyone flood an inbox."""
        if not self.enabled:
            return True
        key = hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return all(self._hit(_Unit(item, (f"mail-{purpose}", key))) for item in self.mail_per_address)

    @contextmanager
    def client_attempt(self) -> Iterator[None]:
        """Take a unit of the caller address's failure budget for one service-client credentials
        check (introspection's HTTP Basic), kept only when the check fails.

        The budget is the one wrong passwords draw on (``FLASK_RATELIMIT_LOGIN_IP``): one address
        gets one allowance of wrong credentials, whichever kind it tries, and guesses sent in
        parallel cost one each, as sign-in's do.
        """
        if not self.enabled:
            yield
            return
        failure = [_Unit(item, ("failed-ip", client_key())) for item in self.failed_per_ip]
        with self._settled(failure, [], refused=InvalidClient):
            yield

    @contextmanager
    def _settled(
        self, failure: list[_Unit], success: list[_Unit], *, refused: type[Exception]
    ) -> Iterator[None]:
        """Take every unit before the check runs, then give back what its outcome did not spend:
        ``refused`` keeps the failure units, success keeps the success units, anything else
        (a 503, a bug) keeps none."""
        self._take(failure + success)
        try:
            yield
        except refused:
            self._give_back(success)
            raise
        except BaseException:
            self._give_back(failure + success)
            raise
        self._give_back(failure)

    def _take(self, units: list[_Unit]) -> None:
        taken: list[_Unit] = []
        for unit in units:
            taken.append(unit)
            if not self._hit(unit):
                self._give_back(taken)
                raise TooManyRequests(retry_after=self._retry_after(unit))

    def _give_back(self, units: list[_Unit]) -> None:
        for unit in units:
            self._refund(unit)

    def _hit(self, unit: _Unit) -> bool:
        return self._call(lambda storage: FixedWindowRateLimiter(storage).hit(unit.item, PREFIX, *unit.ids))

    def _refund(self, unit: _Unit) -> None:
        key, expiry = unit.item.key_for(PREFIX, *unit.ids), unit.item.get_expiry()
        self._call(lambda storage: storage.incr(key, expiry, amount=-1))

    def _retry_after(self, unit: _Unit) -> int:
        stats = self._call(
            lambda storage: FixedWindowRateLimiter(storage).get_window_stats(unit.item, PREFIX, *unit.ids)
        )
        return max(1, math.ceil(stats.reset_time - time.time()))

    @property
    def shared(self) -> bool:
        return not isinstance(self._storage, MemoryStorage)

    def storage_state(self) -> str:
        """For /health: ``memory`` (per process, as configured), ``ok`` (shared storage answers),
        ``fallback`` (it does not: counting in memory) or ``unavailable`` (it does not, and
        ``FLASK_RATELIMIT_FAIL_CLOSED`` refuses password checks meanwhile)."""
        if not self.shared:
            return "memory"
        if self._storage.check():
            self._mark(down=False)
            return "ok"
        self._mark(down=True)
        return "unavailable" if self.fail_closed else "fallback"

    def _call(self, operation: Callable[[Storage], T]) -> T:
        """Run on the shared storage; while it is unreachable, on this process's memory (logged),
        or not at all when the deployment fails closed."""
        if self._down_since is None or time.monotonic() - self._down_since >= RECHECK_SECONDS:
            try:
                result = operation(self._storage)
            except self._storage.base_exceptions:
                self._mark(down=True)
            else:
                self._mark(down=False)
                return result
        if self.fail_closed:
            raise RateLimitUnavailable()
        return operation(self._fallback)

    def _mark(self, *, down: bool) -> None:
        if down and self._down_since is None:
            log.warning(
                "rate limit storage unreachable: %s",
                "refusing password checks" if self.fail_closed else "counting password checks in memory",
            )
        elif not down and self._down_since is not None:
            # A warning like the line it ends: where warnings are the threshold (Python's default
            # last-resort handler), an operator who saw the outage must also see it end.
            log.warning("rate limit storage reachable again")
        self._down_since = time.monotonic() if down else None


def budgets() -> Budgets:
    return cast(Budgets, current_app.extensions[EXTENSION])


def init_app(app: Flask, settings: Settings) -> None:
    """Says at start when a shared storage cannot be reached, rather than at the first sign-in."""
    budgets = app.extensions[EXTENSION] = Budgets(settings)
    if budgets.enabled and budgets.shared:
        budgets.storage_state()
