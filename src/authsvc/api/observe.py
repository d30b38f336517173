"""HTTP metrics for every request, and ``GET /metrics`` (docs/operations.md).

``/metrics`` is a plain Flask route, outside the OpenAPI document: it is for the operator's
Prometheus, not for the API's clients. It answers 404 unless FLASK_METRICS_ENABLED=true, and with
FLASK_METRICS_TOKEN set it needs that bearer token (401 otherwise).
"""

from __future__ import annotations

import time
from hmac import compare_digest

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST

from authsvc import metrics
from authsvc.api.errors import error_response
from authsvc.db import get_engine
from authsvc.extensions import get_settings
from authsvc.services import outbox

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    settings = get_settings()
    if not settings.metrics_enabled:
        return error_response(404, "not_found", "Not found.")
    if settings.metrics_token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not compare_digest(given.encode(), settings.metrics_token.encode()):
            response = error_response(401, "invalid_token", "The metrics token is missing or wrong.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="authsvc metrics"'
            return response
    engine = get_engine()
    body = metrics.exposition(metrics.Pending(lambda: outbox.waiting(engine)))
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0], headers={"Cache-Control": "no-store"})


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _observed(response: Response) -> Response:
    rule = request.url_rule
    route = rule.rule if rule is not None else "unmatched"
    if route != "/metrics":
        metrics.HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        started = g.get("metrics_started")
        if started is not None:
            metrics.HTTP_DURATION.labels(route).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _started)
    app.after_request(_observed)
