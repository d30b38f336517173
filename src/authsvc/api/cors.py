"""Cross-origin access for the origins in ``FLASK_CORS_ORIGINS``, matched exactly.

flask-cors takes any origin string holding a regex character (``*``, ``[`` ...) for a regular
expression and tests it with ``re.match``, anchored at the start only: ``https://*.example.com``
granted ``https://xexample.com`` and ``https://example.com.evil.net``, and ``http://[::1]:8080``
became a character class. So it never gets a string from us: each validated, normalised entry
(see ``config.normalise_origin``) becomes a compiled pattern built with ``re.escape`` and ended by
``\\Z``, which flask-cors uses as it is. A ``*.`` entry turns into one or more DNS labels, nothing else.
Compiled patterns also make flask-cors send ``Vary: Origin``, which a shared cache needs.
"""

from __future__ import annotations

import re

from flask import Flask
from flask_cors import CORS

from authsvc.api.cookies import CSRF_HEADER
from authsvc.config import Settings

DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"


def origin_pattern(origin: str) -> re.Pattern[str]:
    """The whole Origin header must be this origin. ``re.ASCII`` keeps ``IGNORECASE`` to ASCII
    letters (no Kelvin sign standing in for ``k``); hosts are case-insensitive, and an
    entry's scheme and port are already lower case and digits."""
    scheme, _, host = origin.partition("://")
    if host.startswith("*."):
        body = rf"(?:{DNS_LABEL}\.)+{re.escape(host[2:])}"
    else:
        body = re.escape(host)
    return re.compile(rf"{re.escape(scheme)}://{body}\Z", re.IGNORECASE | re.ASCII)


def init_app(app: Flask, settings: Settings) -> None:
    """No origins, no CORS headers at all; otherwise only the listed ones, with credentials."""
    if not settings.cors_origin_list:
        return
    CORS(
        app,
        origins=[origin_pattern(origin) for origin in settings.cors_origin_list],
        supports_credentials=True,
        allow_headers=["Authorization", "Content-Type", CSRF_HEADER],
        expose_headers=["X-Total-Count", "Retry-After"],
        max_age=600,
    )
