"""Domain rules with no framework in them: what a username is, and the largest id a row can have.

Pure functions and constants: the request schemas, the services and the security primitives all
import them from here, so none of them has to import another layer for a rule.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Any, NamedTuple

USERNAME_MAX = 150
MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER on PostgreSQL: anything larger names no row


class KeyState(StrEnum):
    """A signing key's state (docs/keys.md); the ``signing_key`` table and the key ring share it."""

    NEXT = "next"  # published, not signing yet: other services' JWKS caches learn it before it signs
    CURRENT = "current"  # signs (one per algorithm)
    RETIRED = "retired"  # published until every token it signed has expired, then pruned


# How keys are listed and published: the signing key first, then the one that signs next, then the old.
KEY_STATE_ORDER: dict[str, int] = {KeyState.CURRENT: 0, KeyState.NEXT: 1, KeyState.RETIRED: 2}


class Level(NamedTuple):
    """How a session was signed in (RFC 8176 ``amr``, NIST ``aal``): carried by every token of the
    session, kept across refreshes, and what sensitive changes check."""

    amr: tuple[str, ...]
    aal: int


PASSWORD = Level(("pwd",), 1)
SECOND_FACTOR = Level(("pwd", "otp"), 2)
# The second factors a user may have (a list, not a flag: passkeys are the next method).
MFA_METHODS = ("totp", "recovery_code")


def needs_step_up(*, mfa_enabled: bool, aal: int) -> bool:
    """A user with a second factor changes credentials only from a session signed in with it."""
    return mfa_enabled and aal < SECOND_FACTOR.aal


def level_of(claims: dict[str, Any]) -> Level:
    """The level a token's claims carry; tokens minted before levels existed are password-only."""
    aal, amr = claims.get("aal"), claims.get("amr")
    if aal == SECOND_FACTOR.aal and isinstance(amr, list) and tuple(amr) == SECOND_FACTOR.amr:
        return SECOND_FACTOR
    return PASSWORD


def normalize_username(value: str) -> str:
    """NFKC then trim: look-alike forms of a name compare and store as one."""
    return unicodedata.normalize("NFKC", value).strip()


def username_key(value: str) -> str:
    """The case-insensitive identity of a username, used for uniqueness and lookup."""
    return normalize_username(value).casefold()
