"""The moves that change accounts and end sessions: a taken name, logouts of every scope, a password
change, an admin's deactivation. Their answers say which sessions ended: every token seen in them is
filed as revoked (state.revoke); an answer the client cannot read forgets them instead (state.forget).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.soak.moves import register
from bench.soak.records import Registration
from bench.soak.state import Account, forget, open_session, revoke

if TYPE_CHECKING:
    from bench.soak.load import Actor


def register_taken(actor: Actor) -> None:
    """The name of an existing account, in other letter case, with a new address: 409, nothing made."""
    if not actor.accounts:
        return register(actor)
    taken = actor.rng.choice(actor.accounts).username.upper()
    email = f"{actor.new_name()}@example.com"
    body = {"username": taken, "email": email, "password": actor.new_password()}
    status, _ = actor.http.call("register_taken", "POST", "/api/auth/register", body=body)
    actor.records.registrations.append(Registration(taken, email, status))
    if status == 201:
        actor.records.surprise("register_taken 201")


def logout(actor: Actor, scope: str, account: Account | None = None) -> None:
    picked = actor.session() if account is None else (account, actor.rng.choice(account.sessions))
    if picked is None:
        return
    account, session = picked
    path = "/api/auth/logout" + ("" if scope == "local" else f"?scope={scope}")
    status, _ = actor.http.call(f"logout_{scope}", "POST", path, token=session.access.raw)
    others = [s for s in account.sessions if s is not session]
    ended = {"local": [session], "others": others, "global": [session, *others]}[scope]
    if status == 200:
        revoke(actor.records, account, ended, "logout")
    elif status != 429:
        actor.records.surprise(f"logout_{scope} {status}")
        forget(account, ended)


def logout_local(actor: Actor) -> None:
    logout(actor, "local")


def logout_others(actor: Actor) -> None:
    logout(actor, "others")


def logout_global(actor: Actor) -> None:
    logout(actor, "global")


def password(actor: Actor) -> None:
    """Every earlier session of the account ends; the answer starts a new one."""
    picked = actor.session()
    if picked is None:
        return
    account, session = picked
    new = actor.new_password()
    body = {"current_password": account.password, "new_password": new}
    status, answer = actor.http.call(
        "password", "POST", "/api/auth/password", body=body, token=session.access.raw
    )
    if status == 200:
        revoke(actor.records, account, list(account.sessions), "password_change")
        account.password = new
        account.sessions.append(open_session(actor.records, answer))
    elif status != 429:
        actor.records.surprise(f"password {status}")
        actor.accounts.remove(account)  # its password is unknown now


def deactivate(actor: Actor) -> None:
    """An admin deactivates one of this thread's accounts: all its sessions end at once."""
    if len(actor.accounts) < 2:
        return register(actor)
    victim = actor.rng.choice(actor.accounts)
    name, secret = actor.plan.admin
    status, admin = actor.http.call(
        "admin_login", "POST", "/api/auth/login", body={"username": name, "password": secret}
    )
    if status != 200:
        return
    token = admin["access_token"]
    status, _ = actor.http.call(
        "deactivate", "PATCH", f"/api/users/{victim.user_id}", body={"is_active": False}, token=token
    )
    if status == 200:
        revoke(actor.records, victim, list(victim.sessions), "deactivation")
    else:
        actor.records.surprise(f"deactivate {status}")
    actor.accounts.remove(victim)  # deactivated (or unknown): not used again
    actor.http.call("admin_logout", "POST", "/api/auth/logout", token=token)
