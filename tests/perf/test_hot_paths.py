"""Regression guard for the other hot paths of docs/benchmarks.md: refresh, the /list/ read and render,
and the admin page.

Like ``test_token_check.py``, each runs once in the normal suite, for correctness; measure them with
``uv run pytest tests/perf --benchmark-enable``.
"""

from __future__ import annotations

import json

from sqlmodel import Session

from authsvc.api.render import user_json, user_record
from authsvc.db import get_engine
from authsvc.extensions import get_codec
from authsvc.services import auth, queries
from tests.conftest import login


def test_refresh_path(app, client, make_user, benchmark):
    """One rotation per call, each spending the token the previous call minted."""
    user = make_user()
    current = [login(client, user.username)["refresh_token"]]

    def rotate() -> None:
        with Session(get_engine(app), expire_on_commit=False) as session:
            current[0] = auth.refresh(session=session, codec=get_codec(), token=current[0]).refresh.token

    with app.app_context():
        benchmark(rotate)
        claims = get_codec().decode(current[0], expected_type="refresh")
    assert claims["sub"] == str(user.id)
    assert (
        client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {current[0]}"}).status_code == 200
    )


def test_list_read_and_render_path(app, make_user, benchmark):
    ids = [make_user().id for _ in range(20)]
    engine = get_engine(app)

    def read_and_render() -> str:
        return "[" + ", ".join(map(user_json, queries.iter_users(engine=engine))) + "]"

    body = benchmark(read_and_render)
    assert [record["id"] for record in json.loads(body)] == ids


def test_admin_page_path(app, make_user, benchmark):
    ids = [make_user().id for _ in range(7)]
    engine = get_engine(app)
    items, total, pages = benchmark(queries.page_users, engine=engine, page=2, per_page=5)
    assert ([user_record(item)["id"] for item in items], total, pages) == (ids[5:], 7, 2)
