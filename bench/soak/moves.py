"""The moves of the load that read and refresh, sign in and register (account_moves.py has the rest):
one user action each, its requests, and what the client files from the answers.

An answer the client cannot read (none, or a 5xx) leaves the outcome unknown: the sessions or the
account it touched are forgotten (state.forget), never guessed at.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from bench.soak.client import Http
from bench.soak.records import Refresh, Registration
from bench.soak.state import Account, Session, forget, open_session, revoke, rotate

if TYPE_CHECKING:
    from bench.soak.load import Actor

MAX_ACCOUNTS = 4  # per load thread: the oldest is left alone beyond this
MAX_SESSIONS = 4  # per account: a sign-in beyond this signs one out instead


def _unknown(status: int) -> bool:
    return status == 0 or status >= 500


def _read(actor: Actor, kind: str, path: str) -> None:
    picked = actor.session()
    if picked is None:
        return login(actor)
    status, _ = actor.http.call(kind, "GET", path, token=picked[1].access.raw)
    if status == 401:
        actor.records.surprise(f"{kind} 401")


def whoami(actor: Actor) -> None:
    _read(actor, "whoami", "/api/auth/whoami")


def list_users(actor: Actor) -> None:
    _read(actor, "list", "/list/")


def refresh_session(actor: Actor, account: Account, session: Session, kind: str = "refresh") -> bool:
    status, body = actor.http.call(kind, "POST", "/api/auth/refresh", token=session.refresh.raw)
    call = actor.records.calls[-1]
    actor.records.refreshes.append(Refresh(session.refresh.jti, call.started, call.ended, status))
    if status == 200:
        rotate(actor.records, session, body, call.ended)
        return True
    if status == 401:
        actor.records.surprise(f"{kind} 401")
    if status != 429:
        forget(account, [session])
    return False


def refresh(actor: Actor) -> None:
    picked = actor.session()
    if picked is not None:
        refresh_session(actor, *picked)


def tabs(actor: Actor) -> None:
    """Two tabs refresh with the same token at the same moment: within the reuse interval both must get
    the same new pair."""
    picked = actor.session()
    if picked is None:
        return
    account, session = picked
    presented = session.refresh
    barrier = threading.Barrier(2)
    answers: list[tuple[int, Any, float]] = []

    def tab() -> None:
        http = Http(actor.plan.port, actor.records, actor.plan.clock)  # a tab has its own connection
        barrier.wait(timeout=10)
        status, body = http.call("refresh_tab", "POST", "/api/auth/refresh", token=presented.raw)
        http.close()
        answers.append((status, body, actor.plan.clock()))

    threads = [threading.Thread(target=tab) for _ in range(2)]
    started = actor.plan.clock()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for status, _, ended in answers:
        actor.records.refreshes.append(Refresh(presented.jti, started, ended, status))
    good = [body for status, body, _ in answers if status == 200]
    if len(good) != 2 or len(answers) != 2:
        actor.records.surprise("tabs not both 200")
        forget(account, [session])
        return
    if good[0]["refresh_token"] != good[1]["refresh_token"]:
        actor.records.surprise("tabs got different pairs")
        rotate(actor.records, session, good[1], actor.plan.clock())
    rotate(actor.records, session, good[0], actor.plan.clock())


def replay(actor: Actor) -> None:
    """A refresh token spent well outside the reuse interval comes back (a thief's copy): 401, and the
    whole session is revoked."""
    cutoff = actor.plan.clock() - actor.plan.reuse_interval - 1
    for account in actor.accounts:
        for session in account.sessions:
            old = [token for token, at in session.spent if at < cutoff]
            if not old:
                continue
            token = old[-1]
            status, _ = actor.http.call("refresh_replay", "POST", "/api/auth/refresh", token=token.raw)
            call = actor.records.calls[-1]
            actor.records.refreshes.append(Refresh(token.jti, call.started, call.ended, status))
            if status == 401:
                revoke(actor.records, account, [session], "reuse")
            elif status != 429:
                actor.records.surprise(f"refresh_replay {status}")
                forget(account, [session])
            return
    refresh(actor)  # nothing spent long enough ago yet


def login(actor: Actor, account: Account | None = None) -> None:
    if not actor.accounts:
        return register(actor)
    account = account or actor.rng.choice(actor.accounts)
    if len(account.sessions) >= MAX_SESSIONS:
        from bench.soak.account_moves import logout  # the two modules' moves call each other

        return logout(actor, "local", account)
    body = {"username": account.username, "password": account.password}
    status, answer = actor.http.call("login", "POST", "/api/auth/login", body=body)
    if status == 200:
        account.sessions.append(open_session(actor.records, answer))
    elif status == 401:
        actor.records.surprise("login 401")


def register(actor: Actor) -> None:
    username, password = actor.new_name(), actor.new_password()
    email = f"{username}@example.com"
    body = {"username": username, "email": email, "password": password}
    status, answer = actor.http.call("register", "POST", "/api/auth/register", body=body)
    actor.records.registrations.append(Registration(username, email, status))
    if status != 201:
        if status != 429 and not _unknown(status):
            actor.records.surprise(f"register {status}")
        return
    account = Account(username, email, password, int(answer["id"]))
    actor.accounts.append(account)
    if len(actor.accounts) > MAX_ACCOUNTS:
        actor.accounts.pop(0)  # left alone from now on; its sessions expire and are pruned
    login(actor, account)
