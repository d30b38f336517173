"""The floors: bare Flask views that run exactly the SQL an authsvc endpoint needs, with no auth.

``BARE_DATABASE_URL`` (SQLAlchemy form, like ``FLASK_DATABASE_URL``) names the migrated bench database.
Each worker thread keeps one connection open for its life, through the driver authsvc uses (psycopg 3
on PostgreSQL, sqlite3 on SQLite): what a pool hands out, without a pre-ping. Reads are single
statements in autocommit; the write is one transaction. Rendering is plain ``jsonify``, like
``bench.bare``.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify

from bench.bare_sql import Connection, connection

COLUMNS = 'id, username, email, role, is_active, created_at FROM "user"'
ALL_USERS = f"SELECT {COLUMNS} ORDER BY id"  # /list/ for an admin
ONE_USER = f"SELECT {COLUMNS} WHERE id = %s"  # what whoami renders
COUNTER = "SELECT total FROM user_counter WHERE id = 1"  # the admin page's unfiltered total
PAGE = f"SELECT {COLUMNS} ORDER BY id LIMIT %s OFFSET %s"
SPEND = "INSERT INTO token_blocklist (jti, kind, user_id, created_at, expires_at) VALUES (%s, %s, %s, %s, %s)"
TOUCH = "UPDATE auth_session SET last_used_at = %s WHERE id = %s"
SESSIONS = "SELECT id FROM auth_session ORDER BY id LIMIT 10000"
PER_PAGE = 5

app = Flask(__name__)
_session_ids: list[str] = []  # rows for the write to update, read once per worker


def _iso(moment: datetime | str) -> str:
    if isinstance(moment, str):  # SQLite keeps UTC as text
        return moment.replace(" ", "T", 1) + "Z"
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    id_, username, email, role, is_active, created_at = row
    return {
        "id": id_,
        "username": username,
        "email": email,
        "role": role,
        "is_active": bool(is_active),
        "created_at": _iso(created_at),
    }


@app.get("/q/list/")
def all_users() -> Response:
    return jsonify([_record(row) for row in connection().fetch(ALL_USERS)])


@app.get("/q/user")
def one_user() -> Response:
    return jsonify(_record(connection().fetch(ONE_USER, (1,))[0]))


@app.get("/q/page")
def page() -> Response:
    db = connection()
    total = db.fetch(COUNTER)[0][0]
    items = [_record(row) for row in db.fetch(PAGE, (PER_PAGE, 0))]
    pages = math.ceil(total / PER_PAGE)
    return jsonify({"items": items, "page": 1, "per_page": PER_PAGE, "total": total, "pages": pages})


@app.post("/q/write")
def write() -> Response:
    """Refresh's floor: spend a token id (INSERT) and touch a session (UPDATE), one commit."""
    db = connection()
    if not _session_ids:
        _session_ids.extend(row[0] for row in db.fetch(SESSIONS))
    now = datetime.now(UTC)
    spent = (uuid.uuid4().hex, "refresh", 1, db.moment(now), db.moment(now + timedelta(days=14)))
    _transaction(db, [(SPEND, spent), (TOUCH, (db.moment(now), random.choice(_session_ids)))])
    return jsonify({"written": 2})


def _transaction(db: Connection, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    with db.transaction():
        for sql, params in statements:
            db.execute(sql, params)
