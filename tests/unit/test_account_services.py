"""Service functions of issue 11: account creation by an admin, and the operator's account commands."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import Session, select

from authsvc.exceptions import EmailTaken, UsernameTaken
from authsvc.models import Role, User
from authsvc.security import PasswordHasher
from authsvc.services import users

NEW_PASSWORD = "tangerine-lighthouse-42"


@pytest.fixture
def taken_after_the_check(monkeypatch) -> None:
    """The name or email is taken by someone else between the service's check and its commit: the
    first "is it free?" answers yes whatever the table holds, later ones tell the truth."""
    real: Callable[..., None] = users._ensure_free
    calls = []

    def first_says_free(session: Session, **kwargs: object) -> None:
        calls.append(kwargs)
        if len(calls) > 1:
            real(session, **kwargs)

    monkeypatch.setattr(users, "_ensure_free", first_says_free)


@pytest.mark.parametrize(
    ("username", "email", "error"),
    [("ALICE", "other@example.com", UsernameTaken), ("bob", "alice@example.com", EmailTaken)],
    ids=["username", "email"],
)
@pytest.mark.usefixtures("taken_after_the_check")
def test_a_name_or_email_taken_between_check_and_commit_is_409_not_500(
    make_user, session, username, email, error
):
    """The unique index refuses the insert; the service rolls back and says which one was taken."""
    alice = make_user("alice", email="alice@example.com")
    with pytest.raises(error):
        users.create_by_admin(
            session=session,
            hasher=PasswordHasher(4),
            username=username,
            password=NEW_PASSWORD,
            email=email,
            role=Role.USER,
            actor_id=alice.id,
        )
    assert session.exec(select(User.username)).all() == ["alice"]  # the session is usable again
