"""The baseline: a bare Flask app returning the same 100-user JSON as ``/list/``, no auth, no database.

Every figure of the benchmark is also given as a ratio to this one, measured in the same run.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, Response, jsonify

CREATED = datetime(2026, 1, 1, tzinfo=UTC).isoformat().replace("+00:00", "Z")
USERS = [
    {
        "id": n,
        "username": f"user{n}",
        "email": f"user{n}@example.com",
        "role": "user",
        "is_active": True,
        "created_at": CREATED,
    }
    for n in range(1, 101)
]

app = Flask(__name__)


@app.get("/list/")
def list_users() -> Response:
    return jsonify(USERS)
