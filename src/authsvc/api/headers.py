"""Response headers every answer carries: no sniffing, no referrer, no caching of JSON, and a strict
policy on HTML."""

from __future__ import annotations

from flask import Flask, Response

# The only HTML the service serves is its own pages; they load nothing from elsewhere.
HTML_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def secure_headers(response: Response) -> Response:
    """Every JSON answer (user records, lists, sessions, errors, tokens) is personal or may be, so
    no cache, shared or private, may keep it; one that chose its own ``Cache-Control`` (public keys)
    keeps it. HTML pages and static assets hold nothing personal and stay cacheable."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.is_json:
        response.headers.setdefault("Cache-Control", "no-store")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", HTML_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_app(app: Flask) -> None:
    app.after_request(secure_headers)
