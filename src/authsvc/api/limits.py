"""Throttling with Flask-Limiter: registration and refresh per client address, introspection per
service client. Counts live in
memory, or in Redis (``FLASK_RATELIMIT_STORAGE_URI``) so that every process of a deployment shares
them. Password checks (sign-in, password change) are budgeted before they run, in ``attempts``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from limits.errors import StorageError

from authsvc.api.errors import error_response
from authsvc.config import Settings
from authsvc.exceptions import RateLimitUnavailable
from authsvc.extensions import get_settings

log = logging.getLogger("authsvc")
P = ParamSpec("P")
R = TypeVar("R")


def client_key() -> str:
    """The client a per-address limit counts: its IPv4 address, or the /64 of its IPv6 address.

    One IPv6 host is handed a whole /64, so counting single addresses would give it 2**64
    budgets. Anything that is not an address (it cannot happen behind a sane proxy) is hashed, so
    no raw header text ever reaches a storage key or a log line.
    """
    raw = request.remote_addr or ""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return "unparsed-" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


limiter = Limiter(key_func=client_key, headers_enabled=True, strategy="moving-window")


# Shared limits: both refresh endpoints draw on one budget, so offering the same operation at two
# URLs never doubles what a client may try. (Password checks have their own budgets: attempts.py.)
def register(view: Callable[P, R]) -> Callable[P, R]:
    return limiter.shared_limit(lambda: get_settings().ratelimit_register, scope="register")(view)


def refresh(view: Callable[P, R]) -> Callable[P, R]:
    return limiter.shared_limit(lambda: get_settings().ratelimit_refresh, scope="refresh")(view)


def mail(view: Callable[P, R]) -> Callable[P, R]:
    """Requests that mail a link to an address (forgot password, resend verification) share one
    budget per client address: 429 beyond it."""
    return limiter.shared_limit(lambda: get_settings().ratelimit_forgot_ip, scope="mail")(view)


def introspect(view: Callable[P, R]) -> Callable[P, R]:
    """Per service client, by the ``client_id`` that authenticated (set on ``g`` before the view
    runs): a busy service never shares its budget with another behind the same address, and nobody
    can spend a client's budget without its secret (failed attempts count per address, in attempts)."""
    return limiter.limit(
        lambda: get_settings().ratelimit_introspect, key_func=service_client_key, scope="introspect"
    )(view)


def service_client_key() -> str:
    return f"client-{g.service_client_id}"


def init_app(app: Flask, config: Settings) -> None:
    shared = not config.ratelimit_storage_uri.startswith("memory")
    app.config.update(
        RATELIMIT_ENABLED=config.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=config.ratelimit_storage_uri,
        # Storage failures arrive as limits' StorageError; a Redis that stops answering costs a second.
        RATELIMIT_STORAGE_OPTIONS={"wrap_exceptions": True}
        | ({"socket_timeout": 1.0, "socket_connect_timeout": 1.0} if shared else {}),
        RATELIMIT_KEY_PREFIX="authsvc",
        # An unreachable Redis falls back to counting in memory (logged by Flask-Limiter), unless the
        # deployment prefers refusing requests to unshared counts.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=not config.ratelimit_fail_closed,
    )
    app.register_error_handler(StorageError, _storage_unavailable)
    _limiter_lines_visible()
    # The one module-level limiter (its decorators bind to it at import) is re-initialised for each
    # app; Flask-Limiter only ever turns the fallback on, so let this app's settings decide afresh.
    limiter._in_memory_fallback_enabled = False
    limiter._storage_dead = False
    # Registered before the limiter's own hook so it runs after it (Flask runs these in reverse).
    app.after_request(_retry_after_only_when_refused)
    limiter.init_app(app)
    # Registered after the limiter's hook, so it runs before it.
    app.after_request(_no_limit_headers_without_storage)


def _limiter_lines_visible() -> None:
    """Flask-Limiter says when it falls back to memory and when its storage recovers, on its own logger
    behind a NullHandler: unless logging is configured, neither line would reach the log. Shown on
    stderr like authsvc's own lines; an operator who configures logging keeps control."""
    logger = logging.getLogger("flask-limiter")
    if logging.getLogger().handlers or any(
        not isinstance(handler, logging.NullHandler) for handler in logger.handlers
    ):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _storage_unavailable(_error: StorageError) -> Response:
    """Failing closed: the shared counts cannot be read, so the request is refused, not let through."""
    log.warning("rate limit storage unreachable: refusing a throttled request")
    return error_response(503, RateLimitUnavailable.code, RateLimitUnavailable.detail)


def _no_limit_headers_without_storage(response: Response) -> Response:
    """Flask-Limiter reads the window behind the X-RateLimit headers after the view has run. If the
    storage went away in between (or another thread has just switched to counting in memory), that
    read raised and the whole response became a 500, losing what the view committed (a refresh's
    new pair). The response goes out without those headers instead."""
    headline = limiter.current_limit
    if headline is None:
        return response
    try:
        _ = headline.window  # read once here; the limiter's hook reuses it
    except StorageError:
        limiter.context.view_rate_limit = None  # the limiter then adds no headers
        log.warning("rate limit storage unreachable: a response went out without its rate limit headers")
    return response


def _retry_after_only_when_refused(response: Response) -> Response:
    """Flask-Limiter adds Retry-After to every limited response; it only means something on a 429."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response
