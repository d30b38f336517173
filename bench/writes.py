"""The write rows: sign-in and registration against the bcrypt ceiling, refresh and logout each
spending a fresh session's token per request, against the bare write."""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid

from authsvc.security import PasswordHasher
from bench import lua, tokens
from bench.loadgen import threads_for
from bench.servers import Server
from bench.suite import PASSWORD, ROUNDS, Run
from bench.table import Measurement

# A password the policy accepts (zxcvbn score >= 2) for every registered account.
NEW_PASSWORD = "Bench-register-7Qx!horse"
USERS = list(range(1, 101))
BCRYPT_CONNECTIONS = 4  # two per core keeps both busy while bcrypt runs
BCRYPT_SECONDS = 10  # a longer window than the others: at ~8 req/s, enough requests to count


def bcrypt_ceiling(password_hash: str) -> tuple[float, str]:
    """Requests per second if every core did nothing but one verify (or hash) at cost 12 each."""
    hasher = PasswordHasher(ROUNDS)
    timings = []
    for _ in range(8):
        started = time.perf_counter()
        hasher.verify(PASSWORD, password_hash)
        timings.append(time.perf_counter() - started)
    verify = statistics.median(timings)
    cores = os.cpu_count() or 1
    return cores / verify, f"{cores} cores / {verify * 1000:.0f} ms per bcrypt"


def _against_ceiling(run: Run, name: str, measured: Measurement) -> None:
    ceiling, why = bcrypt_ceiling(run.password_hash)
    ratio = f"{measured.rps / ceiling:.0%} of ceiling"
    run.add(name, measured, note=f"ceiling {ceiling:.1f}/s = {why}", ratio=ratio)


def signin(run: Run) -> None:
    body = json.dumps({"username": "user2", "password": PASSWORD})
    measured = run.measure(
        run.authsvc(), "/token/", connections=BCRYPT_CONNECTIONS, duration=max(run.duration, BCRYPT_SECONDS),
        method="POST", body=body, headers={"Content-Type": "application/json"},
    )  # fmt: skip
    _against_ceiling(run, f"POST /token/ (bcrypt cost {ROUNDS})", measured)


def fresh_tokens(run: Run, kind: str, count: int) -> list[str]:
    """The ``kind`` (refresh or access) tokens of ``count`` fresh sessions spread over the 100 users."""
    pairs = tokens.fresh_pairs(run.engine, tokens.codec_for(run.env), count=count, user_ids=USERS)
    return [(pair.refresh if kind == "refresh" else pair.access).token for pair in pairs]


def walk_tokens(run: Run, path: str, kind: str, *, server: Server | None = None) -> tuple[Measurement, str]:
    """Load ``path`` (on ``server``, authsvc by default) with a token of a distinct fresh session per
    request (``kind``: refresh or access); the note says so when the run needed more tokens than were
    minted."""
    connections = 16
    count = tokens.TOKENS_PER_SECOND * run.duration
    sent = fresh_tokens(run, kind, count)
    script = lua.token_walk(method="POST", path=path, tokens=sent, threads=threads_for(connections))
    measured = run.measure(server or run.authsvc(), path, connections=connections, script=script)
    short = measured.result.requests > count
    return measured, f"ran out of tokens: {count:,} minted" if short else f"{count:,} sessions seeded"


def writes(run: Run) -> None:
    refresh, note = walk_tokens(run, "/api/auth/refresh", "refresh")
    name = "POST /api/auth/refresh (a fresh session's token each)"
    run.add(name, refresh, key="refresh", floor="q/write", note=note)
    if run.quick:
        return
    logout, note = walk_tokens(run, "/api/auth/logout", "access")
    run.add("POST /api/auth/logout (a fresh session's access token each)", logout, floor="q/write", note=note)
    script = lua.register_walk(
        path="/api/auth/register", tag=uuid.uuid4().hex[:6], password=NEW_PASSWORD,
        threads=threads_for(BCRYPT_CONNECTIONS),
    )  # fmt: skip
    measured = run.measure(
        run.authsvc(), "/api/auth/register", connections=BCRYPT_CONNECTIONS,
        duration=max(run.duration, BCRYPT_SECONDS), script=script,
    )  # fmt: skip
    _against_ceiling(run, f"POST /api/auth/register (bcrypt cost {ROUNDS}, a new name each)", measured)
