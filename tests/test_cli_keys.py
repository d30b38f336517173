"""``flask init-db`` and ``flask keys list | rotate | prune`` under an asymmetric algorithm, switching
algorithms on one database, and a FLASK_SECRET_KEY that cannot open the stored keys (one line, exit 2,
from every entry point: a command, ``create_app``, gunicorn)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from sqlalchemy import MetaData, create_engine
from sqlmodel import select

from authsvc import create_app
from authsvc.db import get_engine, session_scope
from authsvc.extensions import get_codec
from authsvc.keys import secret_kid
from authsvc.models import Role, SigningKey
from authsvc.security import PasswordHasher
from authsvc.services import users
from tests import commands
from tests.conftest import TEST_DATABASE_URL, login, make_settings, reset_schema
from tests.helpers import PASSWORD, bearer

CONFIG_ERROR = "authsvc: configuration error: FLASK_SECRET_KEY:"
OTHER_SECRET = "Wq7zR2mKx9LpV4tNc8BsJ3yHf6GdE1aU5oTi0vQe"


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, jwt_algorithm="ES256")


@pytest.fixture
def same_database(settings) -> Iterator[Callable[..., Flask]]:
    """Apps with other settings on the ``app`` fixture's database, as processes restarted with a changed
    setting would be (``make_app`` would give each a database of its own)."""
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        made.append(create_app(settings.model_copy(update=overrides)))
        return made[-1]

    yield make
    for app in made:
        get_engine(app).dispose()


def stored(app) -> dict[str, str]:
    """kid -> state of every stored key."""
    with app.app_context(), session_scope(get_engine(app)) as session:
        return {row.kid: row.state for row in session.exec(select(SigningKey)).all()}


def kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_init_db_on_an_empty_database_makes_a_current_and_a_next_key(app, cli):
    everything = MetaData()
    everything.reflect(get_engine(app))
    everything.drop_all(get_engine(app))
    result = cli("init-db")
    assert result.exit_code == 0, result.output
    assert "Database ready." in result.output
    made = stored(app)
    assert sorted(made.values()) == ["current", "next"]
    assert cli("init-db").exit_code == 0 and stored(app) == made  # idempotent: nothing new


def test_starting_makes_the_keys_once(app, same_database):
    """A first start made them (create_app is a start); another start finds them."""
    made = stored(app)
    assert sorted(made.values()) == ["current", "next"]
    same_database()
    assert stored(app) == made


def test_keys_list_shows_states_and_the_secrets_kid(app, cli):
    result = cli("keys", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["kid", "algorithm", "state", "created", "retired"]
    current = next(k for k, state in stored(app).items() if state == "current")
    assert any(line.startswith(current) and "current (signs)" in line for line in lines)
    assert any(
        line.startswith(secret_kid(app.extensions["authsvc.settings"].jwt_secret_key)) for line in lines
    )
    assert app.extensions["authsvc.settings"].jwt_secret_key not in result.output


def test_rotate_promotes_next_retires_current_and_keeps_old_tokens(app, client, cli, make_user):
    user = make_user()
    before = login(client, user.username)
    keys_before = stored(app)
    current = next(k for k, s in keys_before.items() if s == "current")
    waiting = next(k for k, s in keys_before.items() if s == "next")
    assert kid(before["access_token"]) == current

    result = cli("keys", "rotate")
    assert result.exit_code == 0, result.output
    assert f"{waiting} signs now" in result.output
    after = stored(app)
    assert after[current] == "retired" and after[waiting] == "current"
    assert sorted(after.values()) == ["current", "next", "retired"]

    get_codec(app).ring.reload()  # what each process does within a minute (FLASK_JWT_KEYS_RELOAD_INTERVAL)
    assert kid(login(client, user.username)["access_token"]) == waiting
    assert client.get("/api/auth/whoami", headers=bearer(before["access_token"])).status_code == 200
    published = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert published == set(after)


def test_prune_drops_only_retired_keys_past_the_horizon(app, client, cli, make_user):
    token = login(client, make_user().username)["access_token"]
    assert cli("keys", "rotate").exit_code == 0
    retired = next(k for k, s in stored(app).items() if s == "retired")
    assert "Pruned 0 retired keys." in cli("keys", "prune").output  # its tokens may still live
    settings = app.extensions["authsvc.settings"]
    horizon = settings.refresh_lifetime + timedelta(seconds=settings.jwt_leeway + 61)
    with app.app_context(), session_scope(get_engine(app)) as session:
        row = session.get(SigningKey, retired)
        row.retired_at -= horizon  # as if retired that long ago
        session.add(row)
        session.commit()
    result = cli("keys", "prune")
    assert result.exit_code == 0 and f"Pruned 1 retired key: {retired}." in result.output
    assert retired not in stored(app) and len(stored(app)) == 2
    get_codec(app).ring.reload()
    assert client.get("/api/auth/whoami", headers=bearer(token)).status_code == 401


def test_rotate_under_hs256_explains_how_and_retires_stored_keys(app, same_database):
    """Switching back to HS256: the stored keys keep verifying until a rotation retires them."""
    token = login(app.test_client(), make_app_user(app))["access_token"]
    hs256 = same_database(jwt_algorithm="HS256")
    assert hs256.test_client().get("/api/auth/whoami", headers=bearer(token)).status_code == 200
    runner = hs256.test_cli_runner()
    with hs256.app_context():
        result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "FLASK_JWT_PREVIOUS_SECRET_KEYS" in result.output
    assert sorted(stored(hs256).values()) == ["retired", "retired"]


def make_app_user(app) -> str:
    """A user made through the service layer in ``app``'s database (shared with the apps made next)."""
    with app.app_context(), session_scope(get_engine(app)) as session:
        user = users.create_user(
            session=session,
            hasher=PasswordHasher(4),
            username="switcher",
            password=PASSWORD,
            email=None,
            role=Role.USER,
        )
    return user.username


def test_switching_algorithm_keeps_the_old_keys_verifying(app, same_database, settings):
    """ES256 -> EdDSA on one database: EdDSA keys are made and sign; ES256 tokens and tokens signed
    with the HS256 secret keep verifying; the JWKS publishes both algorithms' keys."""
    es256_token = login(app.test_client(), make_app_user(app))["access_token"]
    eddsa = same_database(jwt_algorithm="EdDSA")
    client = eddsa.test_client()
    assert client.get("/api/auth/whoami", headers=bearer(es256_token)).status_code == 200
    new = login(client, "switcher")["access_token"]
    assert jwt.get_unverified_header(new)["alg"] == "EdDSA"
    assert {k["alg"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]} == {"ES256", "EdDSA"}
    claims = jwt.decode(new, options={"verify_signature": False})
    secret = settings.jwt_secret_key
    hs256 = jwt.encode(claims, secret, algorithm="HS256", headers={"kid": secret_kid(secret)})
    assert client.get("/api/auth/whoami", headers=bearer(hs256)).status_code == 200


# --- a FLASK_SECRET_KEY that cannot open the stored keys ---


def test_create_app_with_another_secret_stops_with_one_line(app, settings, capsys):
    assert stored(app)  # keys sealed under the settings' FLASK_SECRET_KEY
    with pytest.raises(SystemExit) as stopped:
        create_app(settings.model_copy(update={"secret_key": OTHER_SECRET}))
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(CONFIG_ERROR)
    assert len(stored(app)) == 2  # nothing made in their place


def _database(tmp_path: Path) -> str:
    return TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'keys.sqlite3'}"


@pytest.fixture
def sealed_database(tmp_path: Path) -> dict[str, str]:
    """A database migrated and given ES256 keys by ``flask init-db`` under one FLASK_SECRET_KEY."""
    env = {
        "FLASK_DATABASE_URL": _database(tmp_path),
        "FLASK_JWT_ALGORITHM": "ES256",
        "FLASK_INSTANCE_PATH": str(tmp_path / "instance"),
        "FLASK_JWT_SECRET_KEY": "Hq3xV8kLz2RmW7tPc5NbJ9sYf4GdK1aE6uQw0iTo",
        "FLASK_SECRET_KEY": "nB4vX9qLp2ZkR7mWc5TsJ8yHf3GdE1aU6oKi0zQe",
    }
    if TEST_DATABASE_URL:
        engine = create_engine(TEST_DATABASE_URL)
        reset_schema(engine)
        engine.dispose()
    result = commands.flask(tmp_path, "init-db", **env)
    assert result.returncode == 0 and "Signing keys (ES256)" in result.stdout, result.output
    return env


@pytest.mark.parametrize("command", [["init-db"], ["keys", "rotate"]])
def test_a_command_with_another_secret_stops_with_one_line(tmp_path, sealed_database, command):
    result = commands.flask(tmp_path, *command, **{**sealed_database, "FLASK_SECRET_KEY": OTHER_SECRET})
    line = commands.assert_one_line_error(result, mentions=CONFIG_ERROR, never=(OTHER_SECRET,))
    assert result.returncode == 2, line
    listed = commands.flask(tmp_path, "keys", "list", **sealed_database)
    assert listed.stdout.count("ES256") == 2  # still the two keys init-db made


def test_gunicorn_with_another_secret_stops_with_one_line(tmp_path, sealed_database):
    env = {**sealed_database, "FLASK_SECRET_KEY": OTHER_SECRET, "WEB_CONCURRENCY": "1"}
    result = commands.gunicorn(tmp_path, **env)
    assert result.returncode != 0 and "Traceback" not in result.output, result.output
    assert [line for line in result.stderr.splitlines() if "configuration error" in line] == [
        line for line in result.stderr.splitlines() if line.startswith(CONFIG_ERROR)
    ]
    assert CONFIG_ERROR in result.stderr and OTHER_SECRET not in result.output
