"""What the audit row's pages cost a synced SQLite commit: ``uv run python -m bench.audit_pages [txns]``.

Raw ``sqlite3`` in WAL mode with ``synchronous=FULL`` (authsvc's default), on the tables of a database
migrated to head: a refresh's writes (a blocklist INSERT and a session UPDATE, then COMMIT), alone and
with an ``audit_event`` row under no index, the ``time`` index, the ``(user_id, time)`` index or both.
Each variant has its own file, filled with 20,000 blocklist and audit rows first; the variants take
turns for three rounds. It prints the median time per transaction and the WAL frames (pages) each
commit writes. Under SQLite's one writer a refresh holds the write lock through that commit, so each
page the row adds lengthens every refresh's turn: the reason ``audit_event`` has no index on SQLite
(``models.AuditEvent``; docs/benchmarks.md, "The audit trail"). The figures depend on the disk's sync
latency: run it where the service will run.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import database

INDEXES = {
    "time": "CREATE INDEX ix_audit_event_time ON audit_event (time)",
    "user": "CREATE INDEX ix_audit_event_user_id_time ON audit_event (user_id, time)",
}
VARIANTS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "refresh's writes alone": (False, ()),
    "+ audit row, no index": (True, ()),
    "+ audit row, time index": (True, ("time",)),
    "+ audit row, (user_id, time) index": (True, ("user",)),
    "+ audit row, both indexes": (True, ("time", "user")),
}
SESSIONS = 2000
AUDIT = (
    "INSERT INTO audit_event (time, event, outcome, user_id, session_id, ip, user_agent, request_id, details)"
    " VALUES (?, 'refresh', 'success', ?, ?, '127.0.0.1', 'python-urllib/3.11', ?, '{}')"
)
BLOCK = (
    "INSERT INTO token_blocklist (jti, kind, user_id, created_at, expires_at) VALUES (?, 'REFRESH', ?, ?, ?)"
)
SESSION = (
    "INSERT INTO auth_session (id, user_id, created_at, last_used_at, refresh_jti, access_jti,"
    " rotated_at, expires_at, credentials_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)"
)
ROTATE = (
    "UPDATE auth_session SET previous_refresh_jti = refresh_jti, refresh_jti = ?, access_jti = ?,"
    " rotated_at = ?, last_used_at = ?, expires_at = ? WHERE id = ?"
)


def new_jti() -> str:
    return uuid.uuid4().hex


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def prepared(folder: Path, indexes: tuple[str, ...]) -> sqlite3.Connection:
    """A migrated file with ``SESSIONS`` sessions and 20,000 blocklist and audit rows."""
    path = folder / f"{uuid.uuid4().hex}.sqlite3"
    database.fresh(f"sqlite:///{path}").dispose()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=OFF")  # sessions of users the file does not hold
    for name in indexes:  # migrated on SQLite, audit_event has none (models.AuditEvent)
        connection.execute(INDEXES[name])
    now, later = stamp(datetime.now(UTC)), stamp(datetime.now(UTC) + timedelta(days=7))
    connection.execute("BEGIN")
    users = [i % 100 + 1 for i in range(20_000)]
    connection.executemany(
        SESSION,
        [(f"s{i}", users[i], now, now, new_jti(), new_jti(), now, later) for i in range(SESSIONS)],
    )
    connection.executemany(BLOCK, [(uuid.uuid4().hex, user, now, later) for user in users])
    audited = [(now, user, f"s{i % SESSIONS}", uuid.uuid4().hex) for i, user in enumerate(users)]
    connection.executemany(AUDIT, audited)
    connection.execute("COMMIT")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return connection


def refresh(connection: sqlite3.Connection, *, audited: bool) -> None:
    moment = datetime.now(UTC)
    now, later = stamp(moment), stamp(moment + timedelta(days=7))
    user, sid = random.randint(1, 100), f"s{random.randrange(SESSIONS)}"
    connection.execute("BEGIN")
    connection.execute(BLOCK, (uuid.uuid4().hex, user, now, later))
    connection.execute(ROTATE, (uuid.uuid4().hex, uuid.uuid4().hex, now, now, later, sid))
    if audited:
        connection.execute(AUDIT, (now, user, sid, uuid.uuid4().hex))
    connection.execute("COMMIT")


def frames_per_commit(connection: sqlite3.Connection, *, audited: bool, commits: int = 20) -> float:
    """The WAL frames ``commits`` transactions write, per transaction (no checkpoint between)."""
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for _ in range(commits):
        refresh(connection, audited=audited)
    frames = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    connection.execute("PRAGMA wal_autocheckpoint=1000")
    return float(frames) / commits


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    folder = Path(tempfile.mkdtemp(prefix="authsvc-pages-"))
    connections = {name: prepared(folder, indexes) for name, (_, indexes) in VARIANTS.items()}
    timings: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(3):
        for name, (audited, _) in VARIANTS.items():
            connection = connections[name]
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            started = time.perf_counter()
            for _ in range(count):
                refresh(connection, audited=audited)
            timings[name].append((time.perf_counter() - started) / count * 1e6)
    print(f"SQLite, WAL, synchronous=FULL, {count} transactions x 3 rounds per variant ({folder})")
    for name, (audited, _) in VARIANTS.items():
        rounds = "/".join(f"{value:.0f}" for value in timings[name])
        frames = frames_per_commit(connections[name], audited=audited)
        print(
            f"  {name:36} {statistics.median(timings[name]):5.0f} us per transaction"
            f" (rounds {rounds}), {frames:.1f} pages per commit"
        )


if __name__ == "__main__":
    main()
