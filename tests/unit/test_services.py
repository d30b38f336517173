"""The service layer without HTTP: accounts, sign-in, token rotation and revocation."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlmodel import Session, select

from authsvc.audit import ClientInfo
from authsvc.config import Settings
from authsvc.db import get_engine, session_scope
from authsvc.exceptions import EmailTaken, InvalidCredentials, TokenInvalid, UsernameTaken
from authsvc.models import AuthSession, BlockKind, Role, TokenBlocklist, User, utcnow
from authsvc.security import PasswordHasher, TokenCodec
from authsvc.services import accounts, auth, blocklist, maintenance, queries, sessions, users
from authsvc.services.sessions import TokenPair
from tests.conftest import unique_name
from tests.helpers import PASSWORD

RETENTION = timedelta(days=Settings.model_fields["audit_retention_days"].default)


@pytest.fixture
def hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(settings.bcrypt_rounds)


@pytest.fixture
def codec(settings: Settings) -> TokenCodec:
    return TokenCodec.from_settings(settings)


def deactivate(session: Session, user: User) -> None:
    user.is_active = False
    session.add(user)
    session.commit()


def new_user(
    session: Session,
    hasher: PasswordHasher,
    username: str | None = None,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    role: Role = Role.USER,
) -> User:
    username = username or unique_name()
    return users.create_user(
        session=session,
        hasher=hasher,
        username=username,
        password=password,
        email=email if email is not None else f"{username.lower()}@example.com",
        role=role,
    )


@dataclass
class Clock:
    """The services' notion of now; tests move it instead of sleeping."""

    now: datetime = field(default_factory=utcnow)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    for module in (auth, sessions):
        monkeypatch.setattr(module, "utcnow", lambda: clock.now)
    return clock


def start(session: Session, codec: TokenCodec, user: User) -> TokenPair:
    """Sign ``user`` in: a new session and its first pair (what login does after the password check)."""
    pair = sessions.start(session=session, codec=codec, user=user, client=ClientInfo(ip="192.0.2.1"))
    session.commit()
    return pair


def fresh(app: Flask, user_id: int | None) -> User:
    """The user as stored, read through a new session."""
    with app.app_context(), session_scope(get_engine(app)) as other:
        user = other.get(User, user_id)
        assert user is not None
        return user


# --- accounts -------------------------------------------------------------------------------------


def test_create_user(session, hasher):
    user = new_user(session, hasher, "Alice", email="alice@example.com")
    assert user.id is not None
    assert user.username == "Alice"
    assert user.email == "alice@example.com"
    assert user.role == Role.USER
    assert user.is_active
    assert user.created_at.tzinfo is not None
    assert user.password_hash != PASSWORD
    assert hasher.verify(PASSWORD, user.password_hash)


def test_create_admin(session, hasher):
    assert new_user(session, hasher, role=Role.ADMIN).role == Role.ADMIN


def test_create_user_without_email(session, hasher):
    first = users.create_user(
        session=session, hasher=hasher, username="nomail1", password=PASSWORD, email=None
    )
    second = users.create_user(
        session=session, hasher=hasher, username="nomail2", password=PASSWORD, email=None
    )
    assert first.email is None and second.email is None


@pytest.mark.parametrize("duplicate", ["Alice", "alice", "ALICE", "aLiCe"])
def test_duplicate_username_ignores_case(session, hasher, duplicate):
    new_user(session, hasher, "Alice", email="alice@example.com")
    with pytest.raises(UsernameTaken):
        new_user(session, hasher, duplicate, email="other@example.com")
    assert len(session.exec(select(User)).all()) == 1


def test_duplicate_email(session, hasher):
    new_user(session, hasher, "alice", email="shared@example.com")
    with pytest.raises(EmailTaken):
        new_user(session, hasher, "bob", email="shared@example.com")
    assert len(session.exec(select(User)).all()) == 1


def test_session_still_usable_after_a_refusal(session, hasher):
    new_user(session, hasher, "alice")
    with pytest.raises(UsernameTaken):
        new_user(session, hasher, "ALICE")
    assert new_user(session, hasher, "bob").id is not None


# --- authenticate ---------------------------------------------------------------------------------


def test_authenticate_ok(session, hasher):
    user = new_user(session, hasher, "Alice")
    assert (
        auth.authenticate(session=session, hasher=hasher, username="Alice", password=PASSWORD).id == user.id
    )


def test_authenticate_ignores_username_case(session, hasher):
    user = new_user(session, hasher, "Alice")
    assert (
        auth.authenticate(session=session, hasher=hasher, username="aLICE", password=PASSWORD).id == user.id
    )


@pytest.mark.parametrize(
    "case",
    ["wrong_password", "unknown_user", "inactive", "empty_password", "nul_in_username", "long_username"],
)
def test_authenticate_failures(session, hasher, case):
    user = new_user(session, hasher)
    if case == "inactive":
        deactivate(session, user)
    username = {
        "unknown_user": "nobody-here",
        "nul_in_username": user.username + "\0",
        "long_username": user.username * 200,
    }.get(case, user.username)
    password = {"wrong_password": "wrong-password-1", "empty_password": ""}.get(case, PASSWORD)
    with pytest.raises(InvalidCredentials):
        auth.authenticate(session=session, hasher=hasher, username=username, password=password)


def test_sign_in_rehashes_a_hash_made_with_other_rounds(app, settings, session, hasher, codec):
    old_hasher = PasswordHasher(settings.bcrypt_rounds + 1)
    user = new_user(session, old_hasher)
    old_hash = user.password_hash
    assert hasher.needs_update(old_hash)

    with pytest.raises(InvalidCredentials):  # a failed sign-in leaves the hash alone
        auth.sign_in(
            session=session, hasher=hasher, codec=codec, username=user.username, password="wrong-password"
        )
    assert fresh(app, user.id).password_hash == old_hash

    auth.sign_in(session=session, hasher=hasher, codec=codec, username=user.username, password=PASSWORD)
    stored = fresh(app, user.id).password_hash
    assert stored != old_hash
    assert not hasher.needs_update(stored)
    assert hasher.verify(PASSWORD, stored)


def test_a_sign_in_overtaken_by_a_password_change_neither_signs_in_nor_rehashes(
    app, settings, session, hasher, codec, monkeypatch
):
    """The race of issue 10, made deterministic: the change commits while the sign-in's bcrypt runs."""
    user = new_user(session, PasswordHasher(settings.bcrypt_rounds + 1))
    real_verify = hasher.verify

    def verify_then_change(password: str, password_hash: str | None) -> bool:
        ok = real_verify(password, password_hash)
        with app.app_context(), session_scope(get_engine(app)) as other:
            accounts.change_password(
                session=other,
                hasher=PasswordHasher(settings.bcrypt_rounds),
                codec=codec,
                user_id=user.id,
                current_password=PASSWORD,
                new_password="a-brand-new-passphrase-42",
            )
        return ok

    monkeypatch.setattr(hasher, "verify", verify_then_change)
    with pytest.raises(InvalidCredentials):
        auth.sign_in(session=session, hasher=hasher, codec=codec, username=user.username, password=PASSWORD)
    monkeypatch.undo()
    stored = fresh(app, user.id)
    assert hasher.verify("a-brand-new-passphrase-42", stored.password_hash)  # the change was not undone
    assert stored.credentials_version == 1
    # The one live session is the one the change started.
    assert [row.credentials_version for row in sessions.live_sessions(session=session, user_id=user.id)] == [
        1
    ]


def test_authenticate_keeps_a_current_hash(app, session, hasher):
    user = new_user(session, hasher)
    auth.authenticate(session=session, hasher=hasher, username=user.username, password=PASSWORD)
    assert fresh(app, user.id).password_hash == user.password_hash


# --- sessions and tokens --------------------------------------------------------------------------


def test_start_and_verify_access(session, hasher, codec):
    user = new_user(session, hasher)
    pair = start(session, codec, user)
    identity = auth.verify_access(engine=session.get_bind(), codec=codec, token=pair.access.token)
    assert identity.user.id == user.id
    assert identity.session_id == pair.session_id
    assert identity.claims["jti"] == pair.access.jti

    refresh_claims = codec.decode(pair.refresh.token, expected_type="refresh")
    assert refresh_claims["sid"] == pair.session_id
    assert refresh_claims["sub"] == str(user.id)

    row = session.get(AuthSession, pair.session_id)
    assert row is not None
    assert (row.user_id, row.ip, row.revoked_at) == (user.id, "192.0.2.1", None)
    assert (row.access_jti, row.refresh_jti) == (pair.access.jti, pair.refresh.jti)


def test_each_sign_in_is_a_new_session(session, hasher, codec):
    user = new_user(session, hasher)
    first, second = (
        auth.sign_in(session=session, hasher=hasher, codec=codec, username=user.username, password=PASSWORD)
        for _ in range(2)
    )
    assert first.session_id != second.session_id
    live = {row.id for row in sessions.live_sessions(session=session, user_id=user.id)}
    assert live == {first.session_id, second.session_id}


def test_failed_sign_in_starts_no_session(session, hasher, codec):
    user = new_user(session, hasher)
    with pytest.raises(InvalidCredentials):
        auth.sign_in(
            session=session, hasher=hasher, codec=codec, username=user.username, password="wrong-pw-1"
        )
    assert session.exec(select(AuthSession)).all() == []


def test_verify_access_refuses_a_refresh_token(session, hasher, codec):
    pair = start(session, codec, new_user(session, hasher))
    with pytest.raises(TokenInvalid):
        auth.verify_access(engine=session.get_bind(), codec=codec, token=pair.refresh.token)


def test_verify_access_refuses_a_deactivated_user(session, hasher, codec):
    user = new_user(session, hasher)
    pair = start(session, codec, user)
    deactivate(session, user)
    with pytest.raises(TokenInvalid):
        auth.verify_access(engine=session.get_bind(), codec=codec, token=pair.access.token)


def test_verify_access_refuses_a_deleted_user(session, hasher, codec):
    user = new_user(session, hasher)
    pair = start(session, codec, user)
    session.delete(user)
    session.commit()
    with pytest.raises(TokenInvalid):
        auth.verify_access(engine=session.get_bind(), codec=codec, token=pair.access.token)


def test_refresh_rotates_and_spends(session, hasher, codec):
    user = new_user(session, hasher)
    pair = start(session, codec, user)
    rotated = auth.refresh(session=session, codec=codec, token=pair.refresh.token)

    assert rotated.session_id == pair.session_id
    assert rotated.refresh.jti != pair.refresh.jti
    assert rotated.access.jti != pair.access.jti
    assert rotated.refresh.token != pair.refresh.token
    assert blocklist.blocked_ids(session, [pair.refresh.jti, rotated.refresh.jti]) == {pair.refresh.jti}
    row = session.get(AuthSession, pair.session_id)
    assert row is not None
    assert (row.refresh_jti, row.previous_refresh_jti) == (rotated.refresh.jti, pair.refresh.jti)

    assert (
        auth.verify_access(engine=session.get_bind(), codec=codec, token=rotated.access.token).user.id
        == user.id
    )
    # The access token from before the rotation lives on until it expires: only the refresh token is spent.
    assert (
        auth.verify_access(engine=session.get_bind(), codec=codec, token=pair.access.token).user.id == user.id
    )
    # The new refresh token rotates in its turn.
    assert (
        auth.refresh(session=session, codec=codec, token=rotated.refresh.token).session_id == pair.session_id
    )


def test_refresh_token_gets_the_full_lifetime(session, hasher, codec, clock):
    clock.now = utcnow() - timedelta(hours=1)
    pair = start(session, codec, new_user(session, hasher))
    clock.now = utcnow()
    rotated = auth.refresh(session=session, codec=codec, token=pair.refresh.token)
    assert rotated.refresh.expires_at == clock.now + codec.refresh_lifetime
    assert rotated.refresh.expires_at > pair.refresh.expires_at


def test_refresh_refuses_an_access_token(session, hasher, codec):
    pair = start(session, codec, new_user(session, hasher))
    with pytest.raises(TokenInvalid):
        auth.refresh(session=session, codec=codec, token=pair.access.token)


def test_refresh_refuses_a_deactivated_user(session, hasher, codec):
    user = new_user(session, hasher)
    pair = start(session, codec, user)
    deactivate(session, user)
    with pytest.raises(TokenInvalid):
        auth.refresh(session=session, codec=codec, token=pair.refresh.token)


def test_refresh_refuses_a_token_of_no_known_session(session, hasher, codec):
    user = new_user(session, hasher)
    token = codec.encode(
        subject=str(user.id), token_type="refresh", session_id="no-such-session", now=utcnow()
    )
    with pytest.raises(TokenInvalid):
        auth.refresh(session=session, codec=codec, token=token.token)


def assert_session_revoked(session: Session, codec: TokenCodec, pair: TokenPair) -> None:
    assert pair.session_id in blocklist.blocked_ids(session, [pair.session_id])
    with pytest.raises(TokenInvalid):
        auth.verify_access(engine=session.get_bind(), codec=codec, token=pair.access.token)
    with pytest.raises(TokenInvalid):
        auth.refresh(session=session, codec=codec, token=pair.refresh.token)
    row = session.get(AuthSession, pair.session_id)
    assert row is not None
    session.refresh(row)
    assert row.revoked_at is not None


def test_refresh_reuse_revokes_the_session(session, hasher, codec):
    user = new_user(session, hasher)
    pair = start(session, codec, user)
    rotated = auth.refresh(session=session, codec=codec, token=pair.refresh.token)

    with pytest.raises(TokenInvalid):
        auth.refresh(session=session, codec=codec, token=pair.refresh.token)

    assert_session_revoked(session, codec, rotated)
    with pytest.raises(TokenInvalid):
        auth.verify_access(engine=session.get_bind(), codec=codec, token=pair.access.token)


def test_refresh_reuse_leaves_other_sessions_alone(session, hasher, codec):
    user = new_user(session, hasher)
    stolen = start(session, codec, user)
    other = start(session, codec, user)
    auth.refresh(session=session, codec=codec, token=stolen.refresh.token)
    with pytest.raises(TokenInvalid):
        auth.refresh(session=session, codec=codec, token=stolen.refresh.token)
    assert (
        auth.verify_access(engine=session.get_bind(), codec=codec, token=other.access.token).user.id
        == user.id
    )
    assert (
        auth.refresh(session=session, codec=codec, token=other.refresh.token).session_id == other.session_id
    )


def test_reuse_within_the_interval_gets_the_same_child_pair(session, hasher, codec, clock):
    pair = start(session, codec, new_user(session, hasher))
    child = auth.refresh(session=session, codec=codec, token=pair.refresh.token, reuse_interval=10)
    clock.now += timedelta(seconds=5)
    again = auth.refresh(session=session, codec=codec, token=pair.refresh.token, reuse_interval=10)

    assert (again.access.token, again.refresh.token) == (child.access.token, child.refresh.token)
    assert pair.session_id not in blocklist.blocked_ids(session, [pair.session_id])
    assert auth.verify_access(engine=session.get_bind(), codec=codec, token=child.access.token)
    assert auth.refresh(session=session, codec=codec, token=child.refresh.token, reuse_interval=10)


def test_reuse_after_the_interval_revokes_the_session(session, hasher, codec, clock):
    pair = start(session, codec, new_user(session, hasher))
    child = auth.refresh(session=session, codec=codec, token=pair.refresh.token, reuse_interval=10)
    clock.now += timedelta(seconds=11)
    with pytest.raises(TokenInvalid):
        auth.refresh(session=session, codec=codec, token=pair.refresh.token, reuse_interval=10)
    assert_session_revoked(session, codec, child)


def test_reuse_of_an_older_token_revokes_even_within_the_interval(session, hasher, codec):
    pair = start(session, codec, new_user(session, hasher))
    child = auth.refresh(session=session, codec=codec, token=pair.refresh.token, reuse_interval=60)
    grandchild = auth.refresh(session=session, codec=codec, token=child.refresh.token, reuse_interval=60)
    with pytest.raises(TokenInvalid):
        auth.refresh(session=session, codec=codec, token=pair.refresh.token, reuse_interval=60)
    assert_session_revoked(session, codec, grandchild)


# --- logout ---------------------------------------------------------------------------------------


def identity_of(session: Session, codec: TokenCodec, pair: TokenPair) -> auth.Identity:
    return auth.verify_access(engine=session.get_bind(), codec=codec, token=pair.access.token)


def test_logout_revokes_this_session_only(session, hasher, codec):
    user = new_user(session, hasher)
    pair, other = start(session, codec, user), start(session, codec, user)

    assert auth.logout(session=session, codec=codec, identity=identity_of(session, codec, pair)) == 1

    assert_session_revoked(session, codec, pair)
    assert identity_of(session, codec, other).user.id == user.id
    assert [row.id for row in sessions.live_sessions(session=session, user_id=user.id)] == [other.session_id]


def test_logout_row_outlives_every_token_of_the_session(session, hasher, codec):
    user = new_user(session, hasher)
    pair = start(session, codec, user)
    auth.logout(session=session, codec=codec, identity=identity_of(session, codec, pair))
    row = session.get(TokenBlocklist, pair.session_id)
    assert row is not None
    assert row.kind == BlockKind.SESSION
    assert row.user_id == user.id
    assert row.expires_at >= pair.refresh.expires_at


def test_logout_global_revokes_every_session(session, hasher, codec):
    user = new_user(session, hasher)
    pairs = [start(session, codec, user) for _ in range(3)]
    bystander = start(session, codec, new_user(session, hasher))
    identity = identity_of(session, codec, pairs[0])
    assert auth.logout(session=session, codec=codec, identity=identity, scope="global") == 3
    for pair in pairs:
        assert_session_revoked(session, codec, pair)
    assert identity_of(session, codec, bystander)


def test_logout_others_keeps_this_session(session, hasher, codec):
    user = new_user(session, hasher)
    mine, *others = [start(session, codec, user) for _ in range(3)]
    identity = identity_of(session, codec, mine)
    assert auth.logout(session=session, codec=codec, identity=identity, scope="others") == 2
    for pair in others:
        assert_session_revoked(session, codec, pair)
    assert identity_of(session, codec, mine).session_id == mine.session_id


# --- blocklist and pruning ------------------------------------------------------------------------


def test_block_is_idempotent(session):
    expires_at = utcnow() + timedelta(hours=1)
    assert blocklist.block(session, jti="j1", kind=BlockKind.REFRESH, user_id=None, expires_at=expires_at)
    assert not blocklist.block(session, jti="j1", kind=BlockKind.REFRESH, user_id=None, expires_at=expires_at)
    session.commit()
    assert blocklist.blocked_ids(session, ["j1", "j2"]) == {"j1"}


def test_prune_deletes_only_blocklist_rows_that_have_passed(session):
    now = utcnow()
    rows = {
        "long-gone": now - timedelta(days=30),
        "just-gone": now - timedelta(seconds=1),
        "still-live": now + timedelta(seconds=1),
        "far-future": now + timedelta(days=30),
    }
    for jti, expires_at in rows.items():
        blocklist.block(session, jti=jti, kind=BlockKind.REFRESH, user_id=None, expires_at=expires_at)
    session.commit()

    assert maintenance.prune(session, now=now, audit_retention=RETENTION).blocklist_rows == 2
    assert blocklist.blocked_ids(session, rows) == {"still-live", "far-future"}
    assert maintenance.prune(session, now=now, audit_retention=RETENTION).blocklist_rows == 0


def test_prune_deletes_dead_sessions(session, hasher, codec, clock):
    user = new_user(session, hasher)
    clock.now = utcnow() - codec.refresh_lifetime - timedelta(days=1)
    expired = start(session, codec, user)
    clock.now = utcnow()
    revoked, live = start(session, codec, user), start(session, codec, user)
    auth.logout(session=session, codec=codec, identity=identity_of(session, codec, revoked))

    pruned = maintenance.prune(session, now=utcnow(), audit_retention=RETENTION)

    assert pruned.sessions == 2
    assert pruned.blocklist_rows == 0  # the revoked session's row still guards its live tokens
    assert [row.id for row in session.exec(select(AuthSession)).all()] == [live.session_id]
    assert expired.session_id not in {row.id for row in session.exec(select(AuthSession))}
    with pytest.raises(TokenInvalid):  # pruning never revives a revoked session
        auth.verify_access(engine=session.get_bind(), codec=codec, token=revoked.access.token)
    assert identity_of(session, codec, live)


@pytest.mark.parametrize("prune_first", [False, True], ids=["control", "after-prune"])
def test_leeway_refresh_survives_pruning(session, hasher, codec, clock, prune_first):
    """Pruning only removes what can no longer matter; a token inside the leeway still matters."""
    lenient = dataclasses.replace(codec, leeway=30)
    clock.now = utcnow() - codec.refresh_lifetime - timedelta(seconds=5)  # refresh token expired 5 s ago
    pair = start(session, lenient, new_user(session, hasher))
    clock.now = utcnow()
    if prune_first:
        maintenance.prune(session, now=utcnow(), audit_retention=RETENTION)
    rotated = auth.refresh(session=session, codec=lenient, token=pair.refresh.token)
    assert rotated.session_id == pair.session_id


# --- paging ---------------------------------------------------------------------------------------


def test_page_users_when_empty(session):
    items, total, pages = queries.page_users(engine=session.get_bind(), page=1, per_page=5)
    assert list(items) == []
    assert (total, pages) == (0, 0)


@pytest.mark.parametrize(
    ("count", "per_page"),
    [(1, 5), (5, 5), (6, 5), (7, 3), (7, 7), (7, 100), (3, 1)],
)
def test_page_users_math(session, hasher, count, per_page):
    ids = [new_user(session, hasher).id for _ in range(count)]
    expected_pages = math.ceil(count / per_page)
    seen: list[int | None] = []
    for page in range(1, expected_pages + 2):  # one page past the end, too
        items, total, pages = queries.page_users(engine=session.get_bind(), page=page, per_page=per_page)
        assert (total, pages) == (count, expected_pages)
        assert len(items) == (min(per_page, count - (page - 1) * per_page) if page <= expected_pages else 0)
        seen.extend(user.id for user in items)
    assert seen == ids
