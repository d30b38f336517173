"""Metrics summed across gunicorn workers (API.md section 8): a fresh server with two workers, a
scripted sequence spread over many connections (so both workers answer), then one scrape that
must show exactly the sequence's counts, whichever worker serves it."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import PASSWORD
from tests.system.conftest import at_once, call, database_for_servers, register, running_servers

TOKEN = "scrape-me-0123456789"


def test_counts_are_summed_across_two_workers(tmp_path: Path):
    import urllib.request

    database_url = database_for_servers(tmp_path)
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {
        "FLASK_METRICS_ENABLED": "true",
        "FLASK_METRICS_TOKEN": TOKEN,
        "FLASK_RATELIMIT_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    with running_servers(tmp_path, database_url, workers=2, threads=2, **env) as (base,):
        register(base, "ada")
        good = {"username": "ada", "password": PASSWORD}
        bad = {"username": "ada", "password": "wrong-password"}
        calls = [lambda: call(base, "POST", "/api/auth/login", json_body=good) for _ in range(6)]
        calls += [lambda: call(base, "POST", "/api/auth/login", json_body=bad) for _ in range(4)]
        replies = at_once(*calls)
        assert sorted(reply.status for reply in replies) == [200] * 6 + [401] * 4
        request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=15) as response:
            text = response.read().decode()
        found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        assert found[("authsvc_sign_ins_total", (("outcome", "success"),))] == 6
        assert found[("authsvc_sign_ins_total", (("outcome", "failure"),))] == 4
        login = (("method", "POST"), ("route", "/api/auth/login"))
        assert found[("authsvc_http_requests_total", (*login, ("status", "200")))] == 6
        assert found[("authsvc_http_requests_total", (*login, ("status", "401")))] == 4
        register_rule = (("method", "POST"), ("route", "/api/auth/register"), ("status", "201"))
        assert found[("authsvc_http_requests_total", register_rule)] == 1
        assert call(base, "GET", "/metrics").status == 401
        # Both workers counted (one file of counters per worker): the totals above are their sum.
        assert len(list(folder.glob("counter_*.db"))) == 2
