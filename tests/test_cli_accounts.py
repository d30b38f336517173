"""Issue 11, item 8: an operator recovers and tidies accounts from the command line.

``flask set-password``, ``flask users list``, ``flask activate`` and ``flask delete-user``. Every refusal
is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import pytest
from click.testing import Result
from sqlmodel import Session

from authsvc.audit import ClientInfo
from authsvc.db import get_engine
from authsvc.exceptions import InvalidCredentials
from authsvc.extensions import CODEC
from authsvc.models import Role, User, utcnow
from authsvc.services import sessions
from tests.conftest import login
from tests.helpers import BAD_TOKEN, GOOD_PASSWORD, PASSWORD, bearer, find, password_works

AUDIT = "authsvc.audit"


def assert_one_line_refusal(result: Result) -> str:
    """Non-zero exit, exactly one line on stderr, nothing that looks like a traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [json.loads(record.getMessage()) for record in caplog.records if record.name == AUDIT]


def session_dead(client, tokens: dict) -> bool:
    whoami = client.get("/api/auth/whoami", headers=bearer(tokens["access_token"]))
    refresh = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    return whoami.status_code == 401 and refresh.status_code == 401


# --- flask set-password -----------------------------------------------------------------------------


def test_set_password_replaces_the_password(app, cli, make_user):
    make_user("alice")
    result = cli("set-password", "ALICE", "--password", GOOD_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "alice" in result.output
    assert GOOD_PASSWORD not in result.output
    assert password_works(app, "alice", GOOD_PASSWORD)
    assert not password_works(app, "alice", PASSWORD)


def test_set_password_ends_every_session_of_that_user_only(app, client, cli, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    alices = [login(client, alice.username) for _ in range(3)]
    bobs = login(client, bob.username)
    result = cli("set-password", "alice", "--password", GOOD_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "3 sessions ended" in result.output
    assert all(session_dead(client, tokens) for tokens in alices)
    assert client.get("/list/", headers=bearer(alices[0]["access_token"])).data == BAD_TOKEN
    assert not session_dead(client, bobs)
    login(client, "alice", GOOD_PASSWORD)


def test_set_password_ends_a_sign_in_that_verified_the_old_password_before_it(app, cli, make_user):
    """The credentials version moves: a sign-in whose bcrypt check passed before the reset, and whose
    session is written after it, is refused (revoking the live sessions alone would miss it)."""
    make_user("alice")
    verified_before = find(app, "alice")
    assert cli("set-password", "alice", "--password", GOOD_PASSWORD).exit_code == 0
    with app.app_context(), Session(get_engine(app)) as session:
        assert (
            session.get(User, verified_before.id).credentials_version
            == verified_before.credentials_version + 1
        )
        with pytest.raises(InvalidCredentials):
            sessions.start(
                session=session, codec=app.extensions[CODEC], user=verified_before, client=ClientInfo()
            )


def test_set_password_audits_password_reset_after_the_change(app, cli, make_user, caplog):
    alice = make_user("alice")
    caplog.set_level(logging.INFO, logger=AUDIT)
    caplog.clear()
    assert cli("set-password", "alice", "--password", GOOD_PASSWORD).exit_code == 0
    [line] = audit_lines(caplog)
    assert (line["event"], line["outcome"], line["user_id"], line["actor"]) == (
        "password_reset",
        "success",
        alice.id,
        "operator",
    )
    assert GOOD_PASSWORD not in caplog.text


def test_set_password_prompts_twice_hidden(app, cli, make_user):
    make_user("alice")
    result = cli("set-password", "alice", input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "confirm" in result.output.lower()
    assert GOOD_PASSWORD not in result.output
    assert password_works(app, "alice", GOOD_PASSWORD)


@pytest.mark.parametrize(
    "password", ["", "1234567", "x" * 1025, "long-enough\0password"], ids=["empty", "seven", "1025", "nul"]
)
def test_set_password_refuses_a_password_the_api_would_refuse(app, cli, make_user, password):
    alice = make_user("alice")
    tokens_before = find(app, "alice").credentials_version
    line = assert_one_line_refusal(cli("set-password", "alice", "--password", password))
    assert "password" in line.lower()
    if password == "1234567":
        assert "8" in line
    assert password_works(app, "alice", PASSWORD)
    assert find(app, alice.username).credentials_version == tokens_before


def test_set_password_refuses_a_short_prompted_password(app, cli, make_user):
    make_user("alice")
    assert_one_line_refusal(cli("set-password", "alice", input="short\nshort\n"))
    assert password_works(app, "alice", PASSWORD)


@pytest.mark.parametrize("password", ["password123", "alicealice"], ids=["common", "guessable"])
def test_set_password_warns_about_a_weak_password_but_sets_it(app, cli, make_user, password):
    make_user("alice")
    result = cli("set-password", "alice", "--password", password)
    assert result.exit_code == 0, result.output
    assert "Warning" in result.stderr
    assert password not in result.output
    assert password_works(app, "alice", password)


def test_set_password_does_not_warn_about_a_good_password(cli, make_user):
    make_user("alice")
    assert "Warning" not in cli("set-password", "alice", "--password", GOOD_PASSWORD).stderr


def test_set_password_for_an_unknown_user_asks_for_nothing(cli):
    line = assert_one_line_refusal(cli("set-password", "nobody", input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n"))
    assert "nobody" in line


def test_set_password_keeps_a_deactivated_account_deactivated(app, cli, make_user):
    make_user("alice", is_active=False)
    result = cli("set-password", "alice", "--password", GOOD_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "activate" in result.output  # says how to let them in
    assert find(app, "alice").is_active is False


# --- flask users list -------------------------------------------------------------------------------

HEADER = ["id", "username", "email", "role", "active", "created"]


def table(result: Result) -> list[list[str]]:
    """The listing's rows split into cells, after checking that every column starts where its header does."""
    assert result.exit_code == 0, result.output
    lines = result.stdout.rstrip("\n").splitlines()
    starts = [lines[0].index(name) for name in HEADER]
    rows = []
    for line in lines[1:]:
        cells = [line[start:end].strip() for start, end in zip(starts, [*starts[1:], None], strict=True)]
        assert all(cells), line
        assert all(line[start - 1] == " " for start in starts[1:]), line  # nothing runs into the next column
        rows.append(cells)
    assert lines[0].split() == HEADER
    return rows


@pytest.fixture
def known_users(make_user) -> dict[str, User]:
    return {
        "root": make_user("root", role=Role.ADMIN, email="root@example.com"),
        "alice": make_user("alice", email="alice@example.com"),
        "a-much-longer-username": make_user("a-much-longer-username"),
        "gone": make_user("gone", is_active=False),
        "old-admin": make_user("old-admin", role=Role.ADMIN, is_active=False),
    }


def test_users_list_shows_every_user_in_id_order(cli, known_users):
    rows = table(cli("users", "list"))
    assert [row[1] for row in rows] == list(known_users)
    root = known_users["root"]
    assert rows[0][:5] == [str(root.id), "root", "root@example.com", "admin", "yes"]
    assert rows[3][3:5] == ["user", "no"]
    created = datetime.fromisoformat(rows[0][5])
    assert created.utcoffset() == timedelta(0)
    assert abs(utcnow() - created) < timedelta(minutes=5)


def test_users_list_shows_a_missing_email_as_a_dash(app, cli, runner):
    assert cli("create-user", "noemail", "--password", GOOD_PASSWORD).exit_code == 0
    [row] = table(cli("users", "list"))
    assert row[1:3] == ["noemail", "-"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--role", "admin"], ["root", "old-admin"]),
        (["--role", "user"], ["alice", "a-much-longer-username", "gone"]),
        (["--inactive"], ["gone", "old-admin"]),
        (["--role", "admin", "--inactive"], ["old-admin"]),
    ],
    ids=["admins", "users", "inactive", "inactive-admins"],
)
def test_users_list_filters(cli, known_users, args, expected):
    assert [row[1] for row in table(cli("users", "list", *args))] == expected


def test_users_list_with_nobody_to_show(cli, make_user):
    make_user("alice")
    result = cli("users", "list", "--inactive")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "No users."


def test_users_list_refuses_an_unknown_role(cli):
    result = cli("users", "list", "--role", "root")
    assert result.exit_code != 0
    assert "Traceback" not in result.output


# --- flask activate ---------------------------------------------------------------------------------


def test_activate_lets_a_deactivated_user_sign_in_again_without_old_sessions(app, client, cli, make_user):
    user = make_user("alice")
    before = login(client, user.username)
    assert cli("deactivate", "alice").exit_code == 0
    result = cli("activate", "ALICE")
    assert result.exit_code == 0, result.output
    assert "active" in result.output
    assert find(app, "alice").is_active is True
    assert session_dead(client, before)
    login(client, "alice")


def test_activate_an_active_user_changes_nothing(app, cli, make_user):
    make_user("alice")
    assert cli("activate", "alice").exit_code == 0
    assert find(app, "alice").is_active is True


def test_activate_audits_activation(cli, make_user, caplog):
    alice = make_user("alice", is_active=False)
    caplog.set_level(logging.INFO, logger=AUDIT)
    caplog.clear()
    assert cli("activate", "alice").exit_code == 0
    assert [(line["event"], line["user_id"]) for line in audit_lines(caplog)] == [("activation", alice.id)]


# --- flask delete-user ------------------------------------------------------------------------------


def test_delete_user_asks_first_and_a_no_keeps_the_account(app, cli, make_user):
    make_user("alice")
    result = cli("delete-user", "alice", input="n\n")
    assert result.exit_code != 0
    assert "alice" in result.output and "[y/N]" in result.output
    assert "Traceback" not in result.output
    assert find(app, "alice") is not None


def test_delete_user_after_a_yes_removes_the_account_and_ends_its_sessions(app, client, cli, make_user):
    user = make_user("alice")
    tokens = login(client, user.username)
    result = cli("delete-user", "alice", input="y\n")
    assert result.exit_code == 0, result.output
    assert find(app, "alice") is None
    assert session_dead(client, tokens)
    assert client.get("/list/", headers=bearer(tokens["access_token"])).data == BAD_TOKEN


def test_delete_user_yes_flag_asks_nothing(app, cli, make_user):
    make_user("alice")
    result = cli("delete-user", "alice", "--yes")
    assert result.exit_code == 0, result.output
    assert "[y/N]" not in result.output
    assert find(app, "alice") is None


def test_delete_user_frees_the_name_and_email(cli, make_user):
    make_user("alice", email="alice@example.com")
    assert cli("delete-user", "alice", "--yes").exit_code == 0
    make_user("alice", email="alice@example.com")


@pytest.mark.parametrize("other", ["none", "deactivated-admin", "plain-user"])
def test_delete_user_refuses_the_last_active_admin_in_one_line(app, client, cli, make_user, other):
    root = make_user("root", role=Role.ADMIN)
    if other == "deactivated-admin":
        make_user("old-root", role=Role.ADMIN, is_active=False)
    elif other == "plain-user":
        make_user("alice")
    tokens = login(client, root.username)
    line = assert_one_line_refusal(cli("delete-user", "root", "--yes"))
    assert "last active admin" in line
    assert find(app, "root") is not None
    assert not session_dead(client, tokens)


def test_delete_user_removes_an_admin_when_another_active_admin_exists(app, cli, make_user):
    make_user("root", role=Role.ADMIN)
    make_user("second", role=Role.ADMIN)
    assert cli("delete-user", "root", "--yes").exit_code == 0
    assert find(app, "root") is None


def test_delete_user_removes_a_deactivated_admin(app, cli, make_user):
    make_user("root", role=Role.ADMIN)
    make_user("old-root", role=Role.ADMIN, is_active=False)
    assert cli("delete-user", "old-root", "--yes").exit_code == 0
    assert find(app, "old-root") is None


def test_delete_user_audits_deletion_by_the_operator(cli, make_user, caplog):
    alice = make_user("alice")
    caplog.set_level(logging.INFO, logger=AUDIT)
    caplog.clear()
    assert cli("delete-user", "alice", "--yes").exit_code == 0
    [line] = audit_lines(caplog)
    assert (line["event"], line["outcome"], line["user_id"], line["actor"]) == (
        "deletion",
        "success",
        alice.id,
        "operator",
    )


# --- every account command: an unknown user ---------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["set-password", "nobody-here", "--password", GOOD_PASSWORD],
        ["activate", "nobody-here"],
        ["delete-user", "nobody-here"],
        ["delete-user", "nobody-here", "--yes"],
    ],
    ids=["set-password", "activate", "delete-user", "delete-user-yes"],
)
def test_an_unknown_user_is_one_line_and_nothing_is_asked(cli, make_user, args):
    make_user("alice")
    result = cli(*args, input="y\n")
    line = assert_one_line_refusal(result)
    assert line == "Error: No user named 'nobody-here'."
    assert "[y/N]" not in result.output
