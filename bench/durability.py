"""SQLite's durability setting and what it costs: the write rows (sign-in, refresh, logout, register)
under ``FLASK_SQLITE_SYNCHRONOUS=normal`` and then ``full`` (the default), one server each, in one run.

FULL syncs the write-ahead log at every commit; NORMAL only at checkpoints. Only writes pay for it,
so only the write rows are measured. PostgreSQL has no such setting: the group does nothing there.
"""

from __future__ import annotations

from bench import writes
from bench.suite import Run

MODES = ("normal", "full")


def synchronous(run: Run) -> None:
    if run.engine.dialect.name != "sqlite":
        return
    label, env = run.label, run.env
    try:
        for mode in MODES:
            run.stop_authsvc()  # the next rows start a server with this mode
            run.label = f"{label} synchronous={mode.upper()}"
            run.env = {**env, "FLASK_SQLITE_SYNCHRONOUS": mode}
            writes.signin(run)
            writes.writes(run)
    finally:
        run.stop_authsvc()
        run.label, run.env = label, env
