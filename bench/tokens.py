"""Live sessions seeded in bulk, each with the token pair authsvc itself would have minted for it.

Refresh and logout spend a session's token, so a measured run needs a fresh one per request: the
rows go straight into ``auth_session`` (no bcrypt, no API), and the pairs are made by the service's
own ``sessions.mint_pair`` with the server's codec, so the real service accepts them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import Engine, insert, select

from authsvc.config import Settings
from authsvc.models import AuthSession, User, utcnow
from authsvc.security import TokenCodec
from authsvc.services.sessions import TokenPair, expiry, mint_pair
from bench.seed import chunks

# Enough fresh tokens for the measured window at this many requests per second (each run reports
# non-2xx answers, so running short shows).
TOKENS_PER_SECOND = 2500
_users = User.__table__  # type: ignore[attr-defined]  # set by SQLAlchemy at runtime


def codec_for(env: Mapping[str, str]) -> TokenCodec:
    """The codec of a server started with these ``FLASK_*`` variables."""
    return TokenCodec.from_settings(Settings.from_env(environ=env))


def fresh_pairs(engine: Engine, codec: TokenCodec, *, count: int, user_ids: list[int]) -> list[TokenPair]:
    """Start ``count`` sessions spread evenly over ``user_ids``, as ``sessions.start`` would record them.

    Spread so that no user holds many (refresh never counts a user's sessions, but sign-in does).
    """
    statement = select(_users.c.id, _users.c.credentials_version).where(_users.c.id.in_(user_ids))
    with engine.connect() as connection:
        versions: dict[int, int] = dict(connection.execute(statement).tuples().all())
    now = utcnow()
    pairs, rows = [], []
    for n in range(count):
        user_id = user_ids[n % len(user_ids)]
        pair = mint_pair(
            codec=codec,
            user_id=user_id,
            session_id=uuid.uuid4().hex,
            now=now,
            credentials_version=versions[user_id],
        )
        pairs.append(pair)
        rows.append(
            {"id": pair.session_id, "user_id": user_id, "created_at": now, "last_used_at": now,
             "user_agent": "bench", "ip": "127.0.0.1", "refresh_jti": pair.refresh.jti,
             "access_jti": pair.access.jti, "rotated_at": now, "expires_at": expiry(pair, codec),
             "credentials_version": versions[user_id]}
        )  # fmt: skip
    with engine.begin() as connection:
        for batch in chunks(rows):
            connection.execute(insert(AuthSession), batch)
    return pairs
