"""The hand-built fast paths render exactly what the pydantic models would."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from bench import seed
from sqlmodel import Session

from authsvc.api.render import listed_record, public_user_json, public_user_record, user_json, user_record
from authsvc.db import get_engine
from authsvc.models import Role, User
from authsvc.schemas import ListedUser, UserOut, UserPublic
from authsvc.services.queries import PublicUserView, UserView
from tests.conftest import login
from tests.helpers import bearer


@pytest.mark.parametrize(
    "created_at",
    [datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)],
    ids=["microseconds", "whole-second"],
)
@pytest.mark.parametrize("email", ["a@example.com", None])
def test_user_record_matches_user_out(created_at, email):
    view = UserView(7, "ädmin", email, "admin", False, created_at)
    assert user_record(view) == UserOut.model_validate(view, from_attributes=True).model_dump(mode="json")
    assert listed_record(view) == ListedUser.model_validate(view, from_attributes=True).model_dump(
        mode="json"
    )
    assert user_json(view) == json.dumps(listed_record(view), ensure_ascii=False)
    orm = User(id=7, username="ädmin", username_key="ädmin", email=email, password_hash="x", role="admin",
               is_active=False, created_at=created_at)  # fmt: skip
    assert user_record(orm) == UserOut.model_validate(orm).model_dump(mode="json")
    assert list(user_record(orm)) == [*ListedUser.model_fields, "email_verified"]


@pytest.mark.parametrize(
    "created_at",
    [datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)],
    ids=["microseconds", "whole-second"],
)
def test_public_user_record_matches_user_public(created_at):
    """The public part of /list/ is hand-rendered too: held equal to the model and to json.dumps."""
    full = UserView(7, "ädmin", "a@x", "admin", True, created_at)
    for view in (PublicUserView(7, "ädmin", created_at), full):
        expected = UserPublic.model_validate(view, from_attributes=True).model_dump(mode="json")
        assert public_user_record(view) == expected
        assert list(public_user_record(view)) == ["id", "username", "created_at"]
        assert public_user_json(view) == json.dumps(public_user_record(view), ensure_ascii=False)
    orm = User(id=7, username="ädmin", username_key="ädmin", email="a@x", password_hash="x", role="admin",
               is_active=True, created_at=created_at)  # fmt: skip
    assert public_user_record(orm) == UserPublic.model_validate(orm).model_dump(mode="json")


@pytest.mark.parametrize("role", [Role.USER, Role.ADMIN])
def test_a_long_list_is_streamed_with_the_same_bytes(app, client, make_user, role):
    """Both renderings (public records for a user, whole ones for an admin) stream json.dumps's bytes."""
    user = make_user("streamer", role=role)  # the seed names its users user<n>: keep clear of them
    with Session(get_engine(app)) as session:
        password_hash = session.get(User, user.id).password_hash
    seed.users_up_to(get_engine(app), 2_500, password_hash=password_hash)
    response = client.get("/list/", headers=bearer(login(client, user.username)["access_token"]))
    assert response.status_code == 200
    assert response.is_streamed
    body = response.get_data(as_text=True)
    records = json.loads(body)
    assert [record["id"] for record in records] == list(range(1, 2_501))
    assert ("email" in records[0]) is (role == Role.ADMIN)
    assert body == json.dumps(records, ensure_ascii=False)


@pytest.mark.parametrize(
    "stored",
    [datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC), datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)],
    ids=["microseconds", "whole-second"],
)
def test_list_renders_records_as_the_orm_path_does(app, client, make_user, stored):
    """/list/ reads rows without the ORM (and, on SQLite, timestamps as text): same records."""
    admin = make_user(role=Role.ADMIN)
    with Session(get_engine(app)) as session:
        row = session.get(User, admin.id)
        row.created_at = stored
        session.add(row)
        session.commit()
    token = login(client, admin.username)["access_token"]
    listed = client.get("/list/", headers=bearer(token)).get_json()
    single = client.get(f"/api/users/{admin.id}", headers=bearer(token)).get_json()
    assert listed == [{key: single[key] for key in ListedUser.model_fields}]  # section 1: six keys
    assert (
        single["created_at"]
        == UserOut(**{**single, "created_at": stored}).model_dump(mode="json")["created_at"]
    )
    viewer = make_user()
    public = client.get("/list/", headers=bearer(login(client, viewer.username)["access_token"])).get_json()
    assert public[0] == {key: single[key] for key in ("id", "username", "created_at")}


@pytest.mark.parametrize(
    "name",
    ['quo"te', "back\\slash", "tab\tnew\nline", "ctrl\x01\x1f", "émoji-😀", "ｆｕｌｌ", "\u2028sep"],
)
def test_user_json_escapes_exactly_as_json_dumps(name):
    view = UserView(1, name, f"{name}@x", "user", True, "2026-01-02 03:04:05.000000")
    assert user_json(view) == json.dumps(listed_record(view), ensure_ascii=False)
    assert json.loads(user_json(view))["username"] == name
    assert public_user_json(view) == json.dumps(public_user_record(view), ensure_ascii=False)
    assert json.loads(public_user_json(view))["username"] == name
