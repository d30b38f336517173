"""Fixtures: a fresh app and database per test, a client, a user factory and a login helper.

Set ``TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) to run the
whole suite against PostgreSQL; each test then starts on a freshly created schema.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, MetaData, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from authsvc import create_app, keys, migrate
from authsvc.config import Settings
from authsvc.db import get_engine, make_engine, session_scope
from authsvc.models import Role, User
from authsvc.security import PasswordHasher
from authsvc.services import clients, users
from authsvc.services import keys as services_keys
from authsvc.services.health import head_revision
from tests.helpers import PASSWORD, Api

pytest_plugins = ["tests.mail_fixtures"]


def _private_schema_url(url: str) -> str:
    """Give this test process its own PostgreSQL schema, so parallel runs never share tables."""
    if not url.startswith("postgresql"):
        return url
    schema = f"authsvc_test_{os.getpid()}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine.dispose()
    parsed = make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


TEST_DATABASE_URL = _private_schema_url(os.environ.get("TEST_DATABASE_URL", ""))
_names = itertools.count(1)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "testing",
        "instance_path": tmp_path / "instance",
        "database_url": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.sqlite3'}",
        # Random-looking, so that environment="production" gets secrets production would accept.
        "jwt_secret_key": "Hq3xV8kLz2RmW7tPc5NbJ9sYf4GdK1aE6uQw0iTo",
        "secret_key": "nB4vX9qLp2ZkR7mWc5TsJ8yHf3GdE1aU6oKi0zQe",
        "bcrypt_rounds": 4,
        "ratelimit_enabled": False,  # throttling has its own tests; elsewhere it would only add noise
        "mail_send_in_background": False,  # tests deliver the outbox themselves (or ask for the sender)
    }
    values.update(overrides)
    return Settings(**values)


def reset_schema(engine: Engine) -> None:
    """Drop every table (and Alembic's version row) so the migrations start from nothing."""
    metadata = MetaData()
    metadata.reflect(engine)
    metadata.drop_all(engine)


def build_app(settings: Settings) -> Flask:
    """An app on a schema built by the migrations: a new SQLite file per test, or PostgreSQL reset.

    PostgreSQL is reset and migrated before the app is made, as a deployment runs ``flask db upgrade``
    before it starts: starting loads (and may make) the signing keys, which must find this test's
    schema, not the one the previous test left.
    """
    if not settings.sqlalchemy_url.startswith("sqlite"):
        engine = make_engine(settings)
        fresh_schema(engine)
        engine.dispose()
    return create_app(settings)


def fresh_schema(engine: Engine) -> None:
    """PostgreSQL as the migrations leave an empty database: every table at the head, no rows.

    Migrating from nothing before every test was most of the PostgreSQL suite's time. A schema already
    at the head with exactly the model's tables (what the previous test left, unless it changed the
    schema itself) is emptied instead, its sequences set back so ids start at 1 again, and the user
    counter back to the one row migration 0003 makes. Anything else is dropped and migrated.
    """
    tables = set(SQLModel.metadata.tables)
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        at_head = present == tables | {"alembic_version"} and connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).scalars().all() == [_HEAD]
    if not at_head:
        reset_schema(engine)
        migrate.upgrade(engine)
        return
    # DELETE, children first, and the sequences set back: a test leaves a few rows, and deleting them
    # costs a fifth of TRUNCATE's new files for every table and index (26 ms a test, measured).
    children_first = [t.name for t in reversed(SQLModel.metadata.sorted_tables) if t.name != "user_counter"]
    with engine.begin() as connection:
        for name in children_first:
            connection.execute(text(f'DELETE FROM "{name}"'))
        connection.execute(text("DELETE FROM user_counter"))
        connection.execute(text("INSERT INTO user_counter (id, total) VALUES (1, 0)"))
        connection.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences "
                "WHERE schemaname = current_schema()"
            )
        )


_HEAD = head_revision()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = build_app(settings)
    yield app
    get_engine(app).dispose()


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps with other settings (``make_app(ratelimit_enabled=True)``); each one's engine is
    disposed of when the test ends, so no pooled connection outlives it."""
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        made.append(build_app(make_settings(tmp_path / f"app{len(made)}", **overrides)))
        return made[-1]

    yield make
    for app in made:
        get_engine(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def cli(app: Flask, runner: FlaskCliRunner) -> Callable[..., Result]:
    """Run a command through the ``runner`` fixture the way ``flask <command>`` runs it.

    ``flask`` (FlaskGroup) pushes an app context before any command runs; ``app.cli``, which the
    test runner invokes, does not, and these commands are plain click commands, so push one here.
    """

    def invoke(*args: str, input: str | None = None) -> Result:
        with app.app_context():
            return runner.invoke(args=list(args), input=input)

    return invoke


def unique_name(prefix: str = "user") -> str:
    return f"{prefix}{next(_names)}"


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    """Create a user directly through the service layer (unique name unless given)."""

    def factory(
        username: str | None = None,
        *,
        password: str = PASSWORD,
        email: str | None = None,
        role: Role = Role.USER,
        is_active: bool = True,
    ) -> User:
        username = username or unique_name()
        with app.app_context(), session_scope(get_engine(app)) as session:
            user = users.create_user(
                session=session,
                hasher=PasswordHasher(4),
                username=username,
                password=password,
                email=email if email is not None else f"{username.lower()}@example.com",
                role=role,
            )
            if not is_active:
                user.is_active = False
                session.add(user)
                session.commit()
            return user

    return factory


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    """docs/api.md's one error shape: detail and code, plus ``errors`` on validation failures."""
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    assert set(body) == ({"detail", "code", "errors"} if code == "validation_error" else {"detail", "code"})
    return body


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    """Sign in through /api/auth/login and return its body (access_token, refresh_token, ...)."""
    return Api(client).sign_in(username, password)


@pytest.fixture
def api(client: FlaskClient) -> Api:
    """The test client behind the calls most tests make (tests/helpers.py)."""
    return Api(client)


@pytest.fixture
def user_tokens(client: FlaskClient, make_user: Callable[..., User]) -> tuple[User, dict[str, Any]]:
    user = make_user()
    return user, login(client, user.username)


@pytest.fixture
def make_service_client(app: Flask) -> Callable[..., clients.NewClient]:
    """Register a service client through the service layer (unique name unless given); the result
    carries its ``client_id`` and its one copy of ``client_secret``."""

    def factory(name: str | None = None) -> clients.NewClient:
        with app.app_context(), session_scope(get_engine(app)) as session:
            return clients.create(session=session, name=name or unique_name("svc"))

    return factory


@pytest.fixture
def service_client(make_service_client: Callable[..., clients.NewClient]) -> clients.NewClient:
    return make_service_client()


@pytest.fixture
def admin_tokens(client: FlaskClient, make_user: Callable[..., User]) -> tuple[User, dict[str, Any]]:
    admin = make_user(role=Role.ADMIN)
    return admin, login(client, admin.username)


@pytest.fixture(scope="session")
def _rsa_pool() -> list[Any]:
    """RSA keys made once per run (each costs some 90 ms), handed out by ``fast_rsa``."""
    return [keys.generate("RS256") for _ in range(4)]


@pytest.fixture
def fast_rsa(monkeypatch: pytest.MonkeyPatch, _rsa_pool: list[Any]) -> None:
    """Key generation that takes RS256 keys from the run's pool, each once per test (a test's database
    is its own, so no two keys of one database are the same); past the pool, it generates as usual."""
    pool = iter(_rsa_pool)

    def generate(algorithm: str) -> Any:
        if algorithm == "RS256":
            return next(pool, None) or keys.generate(algorithm)
        return keys.generate(algorithm)

    monkeypatch.setattr(services_keys, "generate", generate)


@pytest.fixture(scope="session", autouse=True)
def _drop_private_schema() -> Iterator[None]:
    yield
    if TEST_DATABASE_URL.startswith("postgresql"):
        url = make_url(TEST_DATABASE_URL)
        schema = str(url.query["options"]).removeprefix("-csearch_path=")
        engine = create_engine(url.difference_update_query(["options"]))
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
