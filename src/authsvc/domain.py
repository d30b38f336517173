"""Domain rules with no framework in them: what a username is, and the largest id a row can have.

Pure functions and constants: the request schemas, the services and the security primitives all
import them from here, so none of them has to import another layer for a rule.
"""

from __future__ import annotations

import unicodedata

USERNAME_MAX = 150
MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER on PostgreSQL: anything larger names no row


def normalize_username(value: str) -> str:
    """NFKC then trim: look-alike forms of a name compare and store as one."""
    return unicodedata.normalize("NFKC", value).strip()


def username_key(value: str) -> str:
    """The case-insensitive identity of a username, used for uniqueness and lookup."""
    return normalize_username(value).casefold()
