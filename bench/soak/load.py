"""The bounded load: threads, each a small population of accounts, sending a realistic mix back to back
(closed loop: a slower server gets fewer requests) until the soak's end or a request count, whichever
comes first. Each thread keeps its own records, so no bookkeeping is shared."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.soak import account_moves, moves
from bench.soak.client import Http
from bench.soak.records import Records
from bench.soak.state import Account, Session, forget

# Weights of each move (moves.py): reads most of the time, then refreshes, sign-ins, the rest rarely.
MIX: dict[str, float] = {
    "whoami": 38, "list_users": 20, "refresh": 12, "tabs": 2, "replay": 1.5, "login": 5, "register": 1,
    "register_taken": 0.5, "logout_local": 3, "logout_others": 1, "logout_global": 1, "password": 1,
    "deactivate": 0.3,
}  # fmt: skip
REQUESTS_PER_SECOND_CAP = 400  # per thread: a bound on the count besides the one on time


@dataclass(frozen=True)
class Plan:
    port: int
    clock: Callable[[], float]
    stop_at: float
    reuse_interval: float
    admin: tuple[str, str]


class Actor:
    def __init__(self, index: int, plan: Plan) -> None:
        self.index = index
        self.plan = plan
        self.records = Records()
        self.http = Http(plan.port, self.records, plan.clock)
        self.rng = random.Random(index)
        self.accounts: list[Account] = []
        self.cap = int(plan.stop_at * REQUESTS_PER_SECOND_CAP)
        self._names = 0

    def run(self) -> None:
        chosen = {name: getattr(moves, name, None) or getattr(account_moves, name) for name in MIX}
        names, weights = list(MIX), list(MIX.values())
        while self.plan.clock() < self.plan.stop_at and len(self.records.calls) < self.cap:
            before = len(self.records.calls)
            if not self.accounts:
                moves.register(self)
            else:
                chosen[self.rng.choices(names, weights)[0]](self)
            sent = self.records.calls[before:]
            if any(call.status == 0 or call.status >= 500 for call in sent):
                time.sleep(0.05)  # a client backs off a little from a failing server
        self.http.close()

    # --- what the moves share ------------------------------------------------------------------

    def new_name(self) -> str:
        self._names += 1
        return f"soak{self.index}n{self._names}{secrets.token_hex(3)}"

    def new_password(self) -> str:
        return f"Soak-{secrets.token_urlsafe(9)}-lantern"

    def session(self) -> tuple[Account, Session] | None:
        """A usable session: its access token good for a few more seconds (refreshed first if not),
        its refresh token not about to expire (else it is left to expire and another is picked)."""
        owners = [account for account in self.accounts if account.sessions]
        if not owners:
            return None
        account = self.rng.choice(owners)
        session = self.rng.choice(account.sessions)
        now = time.time()
        if session.refresh.exp - now < 10:
            forget(account, [session])  # left to expire: pruning's to drop
            return None
        if session.access.exp - now < 5 and not moves.refresh_session(self, account, session):
            return None
        return account, session


def run_actors(count: int, plan: Plan) -> tuple[list[Actor], list[threading.Thread]]:
    actors = [Actor(index, plan) for index in range(count)]
    threads = [threading.Thread(target=actor.run, name=f"soak-load-{i}") for i, actor in enumerate(actors)]
    for thread in threads:
        thread.start()
    return actors, threads
