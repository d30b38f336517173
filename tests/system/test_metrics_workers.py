"""Metrics summed across gunicorn workers (API.md section 8): a fresh server with two workers of one
thread each, parallel batches of sign-ins until both workers have counted some (each writes its own
file of counters), then one scrape that must show exactly every batch's counts, whichever worker
serves it."""

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
    with running_servers(tmp_path, database_url, workers=2, threads=1, **env) as (base,):
        register(base, "ada")
        good = {"username": "ada", "password": PASSWORD}
        bad = {"username": "ada", "password": "wrong-password"}
        batches = 0
        # Parallel batches until both workers have counted something (each writes its own file).
        while batches < 20 and (batches < 2 or len(list(folder.glob("counter_*.db"))) < 2):
            calls = [lambda: call(base, "POST", "/api/auth/login", json_body=good) for _ in range(3)]
            calls += [lambda: call(base, "POST", "/api/auth/login", json_body=bad) for _ in range(2)]
            replies = at_once(*calls)
            assert sorted(reply.status for reply in replies) == [200] * 3 + [401] * 2
            batches += 1
        assert len(list(folder.glob("counter_*.db"))) == 2, "one worker answered every request"
        request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=15) as response:
            text = response.read().decode()
        found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        assert found[("authsvc_sign_ins_total", (("outcome", "success"),))] == 3 * batches
        assert found[("authsvc_sign_ins_total", (("outcome", "failure"),))] == 2 * batches
        login = (("method", "POST"), ("route", "/api/auth/login"))
        assert found[("authsvc_http_requests_total", (*login, ("status", "200")))] == 3 * batches
        assert found[("authsvc_http_requests_total", (*login, ("status", "401")))] == 2 * batches
        register_rule = (("method", "POST"), ("route", "/api/auth/register"), ("status", "201"))
        assert found[("authsvc_http_requests_total", register_rule)] == 1
        assert call(base, "GET", "/metrics").status == 401


def test_the_metrics_folder_gunicorn_makes_is_removed_when_it_stops(tmp_path: Path):
    """Without PROMETHEUS_MULTIPROC_DIR the server makes its own folder, and must not leave one
    behind in the temporary directory at every start."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with running_servers(tmp_path, database_for_servers(tmp_path), TMPDIR=str(scratch)) as (base,):
        assert call(base, "GET", "/health/live").status == 200
        assert [path.name.startswith("authsvc-metrics-") for path in scratch.iterdir()] == [True]
    assert list(scratch.iterdir()) == []


def test_an_operators_metrics_folder_is_kept_and_no_other_is_made(tmp_path: Path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {"TMPDIR": str(scratch), "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    with running_servers(tmp_path, database_for_servers(tmp_path), **env) as (base,):
        assert call(base, "GET", "/health/live").status == 200
    assert folder.is_dir()
    assert list(scratch.iterdir()) == []
