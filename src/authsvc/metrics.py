"""Prometheus metrics (API.md section 8), with ``prometheus_client``: defined once per process,
bottom of the house (``audit`` counts its events here), read by ``GET /metrics``.

Under gunicorn every worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` (the gunicorn
config prepares a fresh one, and drops a dead worker's live gauges), and a scrape sums them all, so
the counts are the deployment's whatever worker answers. One process needs no setting at all.

Labels take bounded values only: the URL rule (``/api/users/<int:user_id>``, never a raw path),
the method, the status, enumerated outcomes; never a username, an address or a token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

HTTP_REQUESTS = Counter(
    "authsvc_http_requests_total",
    "HTTP requests answered, by method, URL rule and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "authsvc_http_request_duration_seconds",
    "Time from the request's arrival to its answer, by URL rule",
    ["route"],
)
SIGN_INS = Counter("authsvc_sign_ins_total", "Sign-in attempts, by outcome", ["outcome"])
REFRESHES = Counter("authsvc_refreshes_total", "Refresh attempts, by outcome", ["outcome"])
SESSIONS_REVOKED = Counter("authsvc_sessions_revoked_total", "Revocations of sessions, by reason", ["reason"])
RATE_LIMITED = Counter(
    "authsvc_rate_limited_total", "Requests refused with 429, by the limit that refused", ["limit"]
)
DATABASE_ERRORS = Counter(
    "authsvc_database_errors_total", "Requests answered 503 because the database failed"
)

# Audit events that end sessions, and the reason their revocations are counted under.
REVOKING_EVENTS = {
    "logout": "logout",
    "refresh_reuse": "reuse",
    "password_change": "password_change",
    "password_reset": "password_reset",
    "deactivation": "deactivation",
    "deletion": "deletion",
}


def count_event(event: str, outcome: str) -> None:
    """Count an audit event (``audit`` calls this for every event once its row has committed)."""
    if event == "sign_in":
        SIGN_INS.labels(outcome).inc()
    elif event == "refresh":
        REFRESHES.labels(outcome).inc()
    elif event == "refresh_reuse":
        REFRESHES.labels("reuse").inc()
    if event in REVOKING_EVENTS and outcome in {"success", "session_revoked"}:
        SESSIONS_REVOKED.labels(REVOKING_EVENTS[event]).inc()


class Pending(Collector):
    """``authsvc_mail_outbox_pending``, read from the database at scrape time: the outbox is shared
    by every process, so no worker's own count would be right."""

    def __init__(self, waiting: Callable[[], int]) -> None:
        self._waiting = waiting

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            value = float(self._waiting())
        except Exception:  # a scrape must answer even while the database is down
            value = float("nan")
        yield GaugeMetricFamily("authsvc_mail_outbox_pending", "Messages waiting in the outbox", value=value)


def exposition(extra: Collector | None = None) -> bytes:
    """The text a scrape gets: every process's values when running under gunicorn, this one's else."""
    if values.ValueClass is not values.MutexValue:  # multiprocess mode, chosen when first imported
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    if extra is None:
        return generate_latest(registry)
    scrape = CollectorRegistry()
    scrape.register(_Both(registry, extra))
    return generate_latest(scrape)


class _Both(Collector):
    def __init__(self, registry: CollectorRegistry, extra: Collector) -> None:
        self._registry, self._extra = registry, extra

    def collect(self) -> Iterable[object]:  # type: ignore[override]
        yield from self._registry.collect()
        yield from self._extra.collect()
