"""What one load thread knows of its accounts and their sessions, and how it files a revocation."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.soak.client import file_token
from bench.soak.records import Records, Token


@dataclass
class Session:
    access: Token
    refresh: Token
    jtis: list[str] = field(default_factory=list)  # every token seen in this session
    spent: list[tuple[Token, float]] = field(default_factory=list)  # refresh tokens spent, and when

    @property
    def sid(self) -> str:
        return self.access.sid


@dataclass
class Account:
    username: str
    email: str
    password: str
    user_id: int
    sessions: list[Session] = field(default_factory=list)


def open_session(records: Records, pair: dict[str, str]) -> Session:
    """A session from a login-shaped body (login, refresh, password change)."""
    access, refresh = file_token(records, pair["access_token"]), file_token(records, pair["refresh_token"])
    return Session(access, refresh, [access.jti, refresh.jti])


def rotate(records: Records, session: Session, pair: dict[str, str], at: float) -> None:
    """A refresh answered: the presented token is spent, the new pair is the session's."""
    fresh = open_session(records, pair)
    if fresh.refresh.jti != session.refresh.jti:
        session.spent.append((session.refresh, at))
        records.revoked[session.refresh.jti] = "spent"
    session.access, session.refresh = fresh.access, fresh.refresh
    session.jtis += [jti for jti in fresh.jtis if jti not in session.jtis]


def revoke(records: Records, account: Account, ended: list[Session], reason: str) -> None:
    """The server answered that these sessions are over: every token seen in them must be refused now."""
    for session in ended:
        for jti in session.jtis:
            records.revoked[jti] = reason
        if session in account.sessions:
            account.sessions.remove(session)


def forget(account: Account, sessions: list[Session]) -> None:
    """An answer the client cannot read (none, or a 5xx): what happened is unknown, so these sessions
    are dropped from the load and from every check that needs their outcome."""
    for session in sessions:
        if session in account.sessions:
            account.sessions.remove(session)
