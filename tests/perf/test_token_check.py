"""Regression guard for the per-request cost: decode + revocation lookup + user load.

In the normal suite (``--benchmark-disable`` in pytest's options) each runs once, for correctness.
Measure for real with ``uv run pytest tests/perf --benchmark-enable``.
"""

from __future__ import annotations

import pytest

from authsvc.api.deps import db
from authsvc.db import get_engine
from authsvc.exceptions import TokenInvalid
from authsvc.extensions import get_codec
from authsvc.models import BlockKind, utcnow
from authsvc.services import auth, blocklist
from tests.conftest import login


@pytest.fixture
def access(client, make_user):
    user = make_user()
    return user, login(client, user.username)["access_token"]


def test_token_check_path(app, access, benchmark):
    user, token = access
    with app.test_request_context():
        identity = benchmark(auth.verify_access, engine=get_engine(), codec=get_codec(), token=token)
    assert identity.user.id == user.id
    assert identity.user.username == user.username


def test_token_check_path_for_a_revoked_session(app, access, benchmark):
    user, token = access
    with app.test_request_context():
        claims = get_codec().decode(token, expected_type="access")
        blocklist.block(db(), jti=claims["sid"], kind=BlockKind.SESSION, user_id=user.id, expires_at=utcnow())
        db().commit()

        def check() -> None:
            with pytest.raises(TokenInvalid):
                auth.verify_access(engine=get_engine(), codec=get_codec(), token=token)

        benchmark(check)
