"""The migrations build exactly the models' schema, and move real data up and down without loss."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel, select

from authsvc import migrate
from authsvc.db import get_engine, make_engine
from authsvc.models import BlockKind, TokenBlocklist, User, on_dialect, utcnow
from tests.conftest import login, reset_schema
from tests.helpers import PASSWORD, bearer


@pytest.fixture
def engine(settings):
    engine = make_engine(settings)
    reset_schema(engine)
    yield engine
    engine.dispose()


def current_revision(engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_autogenerate_finds_nothing_to_change(engine):
    migrate.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": on_dialect(connection.dialect.name)}
        )
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_the_audit_indexes_are_on_postgresql_only(engine):
    """SQLite's one writer would pay a page per index in every audited commit (docs/benchmarks.md)."""
    migrate.upgrade(engine)
    names = {index["name"] for index in inspect(engine).get_indexes("audit_event")}
    expected = {"ix_audit_event_time", "ix_audit_event_user_id_time"}
    assert names == (expected if engine.dialect.name == "postgresql" else set())


def test_upgrade_is_idempotent_and_reaches_head(engine):
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert current_revision(engine) == "0009"
    assert {
        "user",
        "token_blocklist",
        "auth_session",
        "user_counter",
        "signing_key",
        "service_client",
        "one_time_token",
        "outbox",
        "mfa_totp",
        "mfa_recovery_code",
        "mfa_challenge",
    } <= set(inspect(engine).get_table_names())


def test_the_user_counter_follows_inserts_and_deletes_and_counts_existing_users(engine):
    migrate.upgrade(engine, "0002")
    with engine.begin() as connection:
        for name in ("a", "b"):
            connection.execute(
                text(
                    'INSERT INTO "user" (username, username_key, email, password_hash, role, is_active,'
                    " created_at) VALUES (:n, :n, NULL, 'h', 'user', true, :now)"
                ),
                {"n": name, "now": utcnow()},
            )
    migrate.upgrade(engine)  # 0003 counts the users already there
    total = text("SELECT total FROM user_counter WHERE id = 1")
    with engine.begin() as connection:
        assert connection.execute(total).scalar_one() == 2
        connection.execute(text('DELETE FROM "user" WHERE username = :n'), {"n": "a"})
        assert connection.execute(total).scalar_one() == 1
    migrate.downgrade(engine, "0002")
    assert "user_counter" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    with engine.begin() as connection:
        assert connection.execute(total).scalar_one() == 1


def test_first_revision_to_head_and_back_keeps_users_and_revocations(engine):
    migrate.upgrade(engine, "0001")
    assert "auth_session" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "user"'
                " (username, username_key, email, password_hash, role, is_active, created_at)"
                " VALUES ('old', 'old', 'old@example.com', 'hash', 'admin', true, :now)"
            ),
            {"now": utcnow()},
        )
        connection.execute(
            text(
                "INSERT INTO token_blocklist (jti, kind, user_id, created_at, expires_at)"
                " VALUES ('sid-1', 'session', 1, :now, :later)"
            ),
            {"now": utcnow(), "later": utcnow() + timedelta(days=1)},
        )

    migrate.upgrade(engine)
    with Session(engine) as session:
        assert session.exec(select(User.username)).all() == ["old"]
        assert session.get(TokenBlocklist, "sid-1").kind == BlockKind.SESSION

    migrate.downgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    with Session(engine) as session:
        assert session.exec(select(User.username)).all() == ["old"]
        assert session.get(TokenBlocklist, "sid-1") is not None


def test_live_sessions_survive_a_round_trip_to_head(app, client, make_user):
    """A database in use (users signed in) goes down one revision and back up: no user is lost."""
    user = make_user()
    tokens = login(client, user.username)
    engine = get_engine(app)
    with Session(engine) as session:
        users_before = session.exec(select(User.id, User.username, User.password_hash)).all()

    migrate.downgrade(engine, "0001")
    migrate.upgrade(engine)

    with Session(engine) as session:
        assert session.exec(select(User.id, User.username, User.password_hash)).all() == users_before
    # an access token issued before the round trip is still honoured, and the user can sign in again
    assert client.get("/api/auth/whoami", headers=bearer(tokens["access_token"])).status_code == 200
    assert (
        client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD}).status_code
        == 200
    )
