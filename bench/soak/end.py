"""After the load: read the database's side (before anything else changes it), then present every token
the client saw revoked or spent, and count what the server's log said about throttling."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from bench.soak import stack
from bench.soak.checks_service import PHRASES
from bench.soak.client import Http
from bench.soak.records import Facts, Records

PROBE_THREADS = 8  # as many as the server's 2 workers x 4 threads


def read_database(facts: Facts) -> None:
    """Users, live sessions (not revoked, not expired, not in the blocklist) and the blocklist's ids."""
    facts.check_time = time.time()
    with psycopg.connect(stack.direct_url(), connect_timeout=5) as connection:
        for email, username in connection.execute(
            'SELECT email, username FROM "user" WHERE email IS NOT NULL'
        ):
            facts.users[email.lower()] = username.lower()
        facts.blocklisted = {jti for (jti,) in connection.execute("SELECT jti FROM token_blocklist")}
        rows = connection.execute(
            "SELECT id, refresh_jti FROM auth_session WHERE revoked_at IS NULL AND expires_at > now()"
        )
        facts.live_sessions = {sid: jti for sid, jti in rows if sid not in facts.blocklisted}


def probe(records: Records, facts: Facts, port: int, clock: Callable[[], float]) -> None:
    """Each revoked or spent token, presented once: access tokens to whoami, refresh tokens to refresh."""
    facts.probe_time = time.time()
    jtis = sorted(records.revoked)
    slices = [jtis[index::PROBE_THREADS] for index in range(PROBE_THREADS)]

    def present(part: list[str]) -> dict[str, int]:
        scratch = Records()  # the probes are not load: their calls are not counted with it
        http, answers = Http(port, scratch, clock), {}
        for jti in part:
            token = records.tokens[jti]
            if token.kind == "access":
                answers[jti] = http.call("probe", "GET", "/api/auth/whoami", token=token.raw)[0]
            else:
                answers[jti] = http.call("probe", "POST", "/api/auth/refresh", token=token.raw)[0]
        http.close()
        return answers

    with ThreadPoolExecutor(PROBE_THREADS) as pool:
        for answers in pool.map(present, slices):
            facts.probed |= answers


def read_log(facts: Facts, log: Path) -> None:
    text = log.read_text(errors="replace")
    for phrase in PHRASES:
        facts.log_lines[phrase] = text.count(phrase)


def read_redis(facts: Facts) -> None:
    facts.redis_keys = int(stack.redis_client().dbsize())  # type: ignore[arg-type]
