"""docs/grafana-dashboard.json loads and draws only metrics the service exports (API.md section 8)."""

from __future__ import annotations

import json
import re

from prometheus_client import Counter, Histogram

from authsvc import metrics
from tests.helpers import ROOT

DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"


def exported() -> set[str]:
    """The series the service exports, read off its metric objects (a histogram is drawn from its
    buckets), plus the gauge collected at scrape time."""
    names = {"authsvc_mail_outbox_pending"}
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            names.add(f"{value._name}_bucket")
    return names


def test_the_dashboard_is_a_grafana_dashboard():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["schemaVersion"], int)
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["type"] in {"timeseries", "stat"} and panel["title"]
        assert (
            set(panel["gridPos"]) == {"x", "y", "w", "h"}
            and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        )
        assert panel["targets"] and all(target["expr"] and target["refId"] for target in panel["targets"])


def test_every_query_uses_an_exported_metric_and_every_metric_is_drawn():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"authsvc_\w+", expr)}
    assert used == exported()


def test_the_issue_asks_for_these_panels():
    titles = " | ".join(panel["title"].lower() for panel in json.loads(DASHBOARD.read_text())["panels"])
    for wanted in ("sign-ins by outcome", "reuse", "429", "latency by route", "database errors"):
        assert wanted in titles
