"""Password policy beyond length: refuse the guessable ones."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from authsvc.exceptions import WeakPassword
from authsvc.schemas import username_key


@cache
def common_passwords() -> frozenset[str]:
    text = files("authsvc").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_problem(password: str, *, username: str) -> str | None:
    """Why this password is guessable, or None."""
    if password.casefold() in common_passwords():
        return "This password is too common."
    if username_key(password) == username_key(username):
        return "The password must not be the same as the username."
    return None


def check_password(password: str, *, username: str, field: str = "password") -> None:
    """Refuse a guessable password with ``WeakPassword`` naming the field."""
    if problem := password_problem(password, username=username):
        raise WeakPassword(problem, field=field)
