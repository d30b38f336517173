"""What the soak saw, kept as plain records so the checker (``invariants``) is a pure function of them.

Times are seconds since the soak began (one monotonic clock for every thread); token expiries are
epoch seconds, as in the tokens themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Call:
    """One request: its kind (``whoami``, ``refresh``, ``health``...), when it left and came back,
    and its status (0: no answer at all: reset, refused or timed out)."""

    kind: str
    started: float
    ended: float
    status: int


@dataclass(frozen=True, slots=True)
class Token:
    jti: str
    sid: str
    kind: str  # access | refresh
    exp: float
    raw: str


@dataclass(frozen=True, slots=True)
class Refresh:
    """A refresh the client sent with the refresh token ``jti``, and how it ended."""

    jti: str
    started: float
    ended: float
    status: int


@dataclass(frozen=True, slots=True)
class Registration:
    username: str
    email: str
    status: int  # 201, 409, or anything else (an outcome the client cannot know: not checked)


@dataclass
class Records:
    """One load thread's records (merged at the end). ``revoked``: each token the client saw revoked or
    spent, with why (``logout``, ``reuse``, ``deactivation``, ``password_change``, ``spent``)."""

    calls: list[Call] = field(default_factory=list)
    tokens: dict[str, Token] = field(default_factory=dict)
    refreshes: list[Refresh] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    revoked: dict[str, str] = field(default_factory=dict)
    surprises: dict[str, int] = field(default_factory=dict)  # answers the client did not expect, by kind

    def merge(self, other: Records) -> None:
        self.calls += other.calls
        self.tokens |= other.tokens
        self.refreshes += other.refreshes
        self.registrations += other.registrations
        self.revoked |= other.revoked
        for kind, count in other.surprises.items():
            self.surprises[kind] = self.surprises.get(kind, 0) + count

    def surprise(self, kind: str) -> None:
        self.surprises[kind] = self.surprises.get(kind, 0) + 1


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault and its window: from its start to the moment it was undone (a kill or a termination is
    an instant: its ``ended`` is when the action returned)."""

    name: str
    started: float
    ended: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Health:
    at: float
    status: int
    database: str
    throttling: str  # /health's rate_limit_storage


@dataclass(frozen=True, slots=True)
class Memory:
    at: float
    pid: int
    rss_kb: int


@dataclass(frozen=True, slots=True)
class Tables:
    """The two tables pruning keeps bounded, read just before a ``flask prune-tokens``. ``overdue``: rows a
    prune could have dropped more than one prune interval (plus a margin) ago."""

    at: float
    blocklist: int
    sessions: int
    overdue_blocklist: int
    overdue_sessions: int
    pruned: str = ""  # the command's own line


@dataclass
class Facts:
    """Read at the end, after the load stopped: the database's side, and how the tokens the client saw
    revoked answer now (``probed``: jti -> status)."""

    users: dict[str, str] = field(default_factory=dict)  # email -> username, both lower-case
    live_sessions: dict[str, str] = field(default_factory=dict)  # sid -> its current refresh jti
    blocklisted: set[str] = field(default_factory=set)
    probed: dict[str, int] = field(default_factory=dict)
    probe_time: float = 0.0  # epoch seconds of the probes (what was not yet expired then)
    check_time: float = 0.0  # epoch seconds the database was read
    log_lines: dict[str, int] = field(default_factory=dict)  # log phrase -> occurrences in the server log
    redis_keys: int = 0
