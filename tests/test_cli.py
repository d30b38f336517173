"""The operator commands: init-db, create-user, set-role, deactivate, prune-tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import Result
from sqlalchemy import MetaData, inspect
from sqlmodel import col, select

from authsvc.audit import ClientInfo
from authsvc.db import get_engine, session_scope
from authsvc.exceptions import InvalidCredentials
from authsvc.extensions import CODEC
from authsvc.models import AuditEvent, AuthSession, BlockKind, Role, TokenBlocklist, User, utcnow
from authsvc.security import PasswordHasher
from authsvc.services import auth, blocklist, sessions
from tests.helpers import GOOD_PASSWORD, PASSWORD, Invoke, find, password_works


def create(
    cli: Invoke, username: str = "alice", *extra: str, password: str | None = GOOD_PASSWORD, **kw
) -> Result:
    args = ["create-user", username, *extra]
    if password is not None:
        args += ["--password", password]
    return cli(*args, **kw)


def assert_clean_failure(result: Result) -> None:
    """A refusal: non-zero exit through click, a message, no traceback."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.output.strip()


# --- init-db --------------------------------------------------------------------------------------


def test_init_db_creates_the_tables_and_is_idempotent(app, cli):
    engine = get_engine(app)
    everything = MetaData()
    everything.reflect(engine)
    everything.drop_all(engine)  # the tables and any migration bookkeeping: an empty database
    assert inspect(engine).get_table_names() == []

    for _ in range(2):
        result = cli("init-db")
        assert result.exit_code == 0, result.output
        assert "Database ready." in result.output

    tables = set(inspect(engine).get_table_names())
    assert {"user", "token_blocklist", "auth_session"} <= tables


def test_init_db_keeps_existing_data(app, cli, make_user):
    user = make_user()
    assert cli("init-db").exit_code == 0
    assert find(app, user.username) is not None


# --- create-user ----------------------------------------------------------------------------------


def test_create_user(app, cli):
    result = create(cli, "alice", "--email", "Alice@Example.com")
    assert result.exit_code == 0, result.output
    assert "Created" in result.output
    assert GOOD_PASSWORD not in result.output

    user = find(app, "alice")
    assert user is not None
    assert user.role == Role.USER
    assert user.is_active
    assert user.email == "alice@example.com"
    assert password_works(app, "alice", GOOD_PASSWORD)


def test_create_user_without_email(app, cli):
    assert create(cli, "noemail").exit_code == 0
    user = find(app, "noemail")
    assert user is not None
    assert user.email is None


def test_create_admin(app, cli):
    result = create(cli, "root", "--email", "root@example.com", "--admin")
    assert result.exit_code == 0, result.output
    user = find(app, "root")
    assert user is not None
    assert user.role == Role.ADMIN


def test_created_user_can_sign_in(app, cli, client):
    assert create(cli, "alice").exit_code == 0
    response = client.post("/api/auth/login", json={"username": "alice", "password": GOOD_PASSWORD})
    assert response.status_code == 200


@pytest.mark.parametrize("password", ["", "x", "1234567"], ids=["empty", "one", "seven"])
def test_create_user_refuses_a_short_password(app, cli, password):
    result = create(cli, "alice", password=password)
    assert_clean_failure(result)
    assert "8" in result.output
    assert find(app, "alice") is None


@pytest.mark.parametrize(
    "password", ["x" * 1025, "x" * 5000, "long-enough\0password"], ids=["1025-chars", "5000-chars", "nul"]
)
def test_create_user_refuses_a_password_the_api_would_refuse(app, cli, password):
    result = create(cli, "alice", password=password)
    assert_clean_failure(result)
    assert find(app, "alice") is None


def test_create_user_accepts_the_longest_password(app, cli):
    assert create(cli, "alice", password="x" * 1024).exit_code == 0
    assert password_works(app, "alice", "x" * 1024)


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "password123"), ("alice", "Password"), ("longusername", "LongUserName")],
    ids=["common", "common-any-case", "same-as-username"],
)
def test_create_user_warns_about_a_guessable_password_but_creates(app, cli, username, password):
    result = create(cli, username, password=password)
    assert result.exit_code == 0, result.output
    assert "Warning" in result.stderr
    assert password not in result.output
    assert password_works(app, username, password)


def test_create_user_does_not_warn_about_a_good_password(cli):
    result = create(cli, "alice")
    assert result.exit_code == 0
    assert "Warning" not in result.stderr


def test_create_user_prompts_twice_hidden(app, cli):
    result = create(cli, "alice", password=None, input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") >= 1
    assert "confirm" in result.output.lower()
    assert GOOD_PASSWORD not in result.output  # hidden input is not echoed
    assert password_works(app, "alice", GOOD_PASSWORD)


def test_create_user_prompts_again_when_the_two_entries_differ(app, cli):
    typed = f"first-password-1\nsecond-password-2\n{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n"
    result = create(cli, "alice", password=None, input=typed)
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert password_works(app, "alice", GOOD_PASSWORD)


def test_create_user_prompted_password_is_checked_too(app, cli):
    result = create(cli, "alice", password=None, input="short\nshort\n")
    assert_clean_failure(result)
    assert find(app, "alice") is None


@pytest.mark.parametrize("duplicate", ["alice", "ALICE", "Alice"])
def test_create_user_refuses_a_taken_username(app, cli, duplicate):
    assert create(cli, "alice", "--email", "alice@example.com").exit_code == 0
    result = create(cli, duplicate, "--email", "other@example.com")
    assert_clean_failure(result)
    assert "taken" in result.output
    with app.app_context(), session_scope(get_engine(app)) as session:
        assert len(session.exec(select(User)).all()) == 1


def test_create_user_refuses_a_taken_email(app, cli):
    assert create(cli, "alice", "--email", "shared@example.com").exit_code == 0
    result = create(cli, "bob", "--email", "SHARED@example.com")
    assert_clean_failure(result)
    assert "email" in result.output.lower()
    assert find(app, "bob") is None


@pytest.mark.parametrize(
    "args",
    [["bad name"], ["bad/name"], ["x" * 151], ["alice", "--email", "not-an-email"]],
    ids=["space", "slash", "too-long", "bad-email"],
)
def test_create_user_refuses_bad_input(app, cli, args):
    result = create(cli, *args)
    assert_clean_failure(result)
    with app.app_context(), session_scope(get_engine(app)) as session:
        assert session.exec(select(User)).all() == []


# --- set-role and deactivate ----------------------------------------------------------------------


def test_set_role(app, cli, make_user):
    make_user(role=Role.ADMIN)  # so that demoting alice later does not remove the last admin
    make_user("alice")
    assert cli("set-role", "alice", "admin").exit_code == 0
    assert find(app, "alice").role == Role.ADMIN
    assert cli("set-role", "ALICE", "user").exit_code == 0
    assert find(app, "alice").role == Role.USER


def test_set_role_refuses_to_demote_the_last_admin(app, cli, make_user):
    make_user("root", role=Role.ADMIN)
    assert_clean_failure(cli("set-role", "root", "user"))
    assert find(app, "root").role == Role.ADMIN


@pytest.mark.parametrize("args", [["set-role", "nobody", "admin"], ["deactivate", "nobody"]])
def test_commands_refuse_an_unknown_user(cli, args):
    assert_clean_failure(cli(*args))


def test_set_role_refuses_an_unknown_role(cli, make_user):
    make_user("alice")
    assert cli("set-role", "alice", "superuser").exit_code != 0


def test_deactivate_ends_sign_in_and_sessions(app, cli, make_user):
    user = make_user("alice")
    with app.app_context(), session_scope(get_engine(app)) as session:
        codec = app.extensions[CODEC]
        pair = sessions.start(session=session, codec=codec, user=user, client=ClientInfo())
        session.commit()

    result = cli("deactivate", "alice")
    assert result.exit_code == 0, result.output

    assert find(app, "alice").is_active is False
    with app.app_context(), session_scope(get_engine(app)) as session:
        assert pair.session_id in blocklist.blocked_ids(session, [pair.session_id])
        with pytest.raises(InvalidCredentials):
            auth.authenticate(session=session, hasher=PasswordHasher(4), username="alice", password=PASSWORD)


# --- prune-tokens ---------------------------------------------------------------------------------


def test_prune_tokens(app, cli, make_user):
    user = make_user()
    now = utcnow()
    with app.app_context(), session_scope(get_engine(app)) as session:
        codec = app.extensions[CODEC]
        for jti, expires_at in {"gone": now - timedelta(minutes=1), "live": now + timedelta(hours=1)}.items():
            blocklist.block(session, jti=jti, kind=BlockKind.REFRESH, user_id=None, expires_at=expires_at)
        session.commit()
        kept = sessions.start(session=session, codec=codec, user=user, client=ClientInfo())
        ended = sessions.start(session=session, codec=codec, user=user, client=ClientInfo())
        sessions.revoke(
            session=session, codec=codec, session_ids=[ended.session_id], user_id=user.id, now=now
        )
        session.commit()

    result = cli("prune-tokens")
    assert result.exit_code == 0, result.output
    assert "Pruned 1 blocklist rows" in result.output

    with app.app_context(), session_scope(get_engine(app)) as session:
        remaining = set(session.exec(select(TokenBlocklist.jti)).all())
        assert remaining == {"live", ended.session_id}
        assert [row.id for row in session.exec(select(AuthSession)).all()] == [kept.session_id]

    again = cli("prune-tokens")
    assert again.exit_code == 0
    assert "Pruned 0 blocklist rows" in again.output


def test_prune_tokens_on_an_empty_database(cli):
    result = cli("prune-tokens")
    assert result.exit_code == 0, result.output
    assert "Pruned 0" in result.output


@pytest.mark.parametrize(
    ("days", "kept"), [(None, ["day-89", "today"]), (10, ["today"]), (100, ["day-91", "day-89", "today"])]
)
def test_prune_tokens_drops_audit_events_past_the_retention(make_app, days, kept):
    """FLASK_AUDIT_RETENTION_DAYS (90 by default): older events go, younger ones stay."""
    app = make_app(**({"audit_retention_days": days} if days is not None else {}))
    now = utcnow()
    ages = {"day-91": timedelta(days=91), "day-89": timedelta(days=89), "today": timedelta(0)}
    with app.app_context(), session_scope(get_engine(app)) as session:
        for name, age in ages.items():
            session.add(AuditEvent(time=now - age, event="sign_in", outcome=name))
        session.commit()
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["prune-tokens"])
    assert result.exit_code == 0, result.output
    dropped = len(ages) - len(kept)
    assert f"and {dropped} audit events older than {days or 90} days." in result.output
    with session_scope(get_engine(app)) as session:
        left = session.exec(select(AuditEvent.outcome).order_by(col(AuditEvent.time))).all()
    assert list(left) == kept
