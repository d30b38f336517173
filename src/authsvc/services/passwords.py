"""Password policy beyond length: refuse the guessable ones.

Three checks, cheapest first: the shipped list of common passwords, the username itself, then zxcvbn's
estimate of how many guesses the password would take (a score from 0 to 4) with the username and the
email's local part as words an attacker would try first.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import NamedTuple

from zxcvbn import zxcvbn
from zxcvbn.matching import L33T_TABLE, enumerate_l33t_subs, relevant_l33t_subtable

from authsvc.config import Settings
from authsvc.domain import username_key
from authsvc.exceptions import WeakPassword

# FLASK_PASSWORD_MIN_SCORE's default, for callers that have no settings at hand.
DEFAULT_MIN_SCORE: int = Settings.model_fields["password_min_score"].default
# zxcvbn's time grows much faster than the password's length (100 random characters: about a second).
# A prefix never takes more guesses than the whole password, so a weak password stays weak, and a
# long one is never refused for its length, only for a guessable start.
SCORED_CHARACTERS = 32
# zxcvbn repeats its dictionary pass once per way of reading the l33t symbols present ("1" as i or l,
# "7" as l or t, ...): 32 characters cycling through its 20 symbols cost it about 800 ms. Where the
# next new symbol would take the count past this, the prefix ends (so a password opening with many
# of them is judged on fewer characters).
MAX_L33T_SUBSTITUTIONS = 16
_L33T_SYMBOLS = frozenset(symbol for symbols in L33T_TABLE.values() for symbol in symbols)


class Strength(NamedTuple):
    score: int
    warning: str
    suggestions: list[str]


@cache
def common_passwords() -> frozenset[str]:
    text = files("authsvc").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def scored_part(password: str) -> str:
    """The prefix zxcvbn scores: at most ``SCORED_CHARACTERS``, cut before the l33t symbol that would
    take it past ``MAX_L33T_SUBSTITUTIONS``, so a hostile 1024-character password costs a few ms."""
    part = password[:SCORED_CHARACTERS]
    seen: set[str] = set()
    for index, char in enumerate(part):
        if char in _L33T_SYMBOLS and char not in seen:
            seen.add(char)
            table = relevant_l33t_subtable(part[: index + 1], L33T_TABLE)
            if len(enumerate_l33t_subs(table)) > MAX_L33T_SUBSTITUTIONS:
                return part[:index]
    return part


def strength(password: str, *, user_inputs: list[str]) -> Strength:
    """zxcvbn's verdict, on the bounded prefix only (see ``scored_part``)."""
    part = scored_part(password)
    # the prefix is already bounded; zxcvbn's own guard would raise on more than 72 characters
    result = zxcvbn(part, user_inputs=user_inputs, max_length=len(part))
    feedback = result["feedback"]
    return Strength(int(result["score"]), str(feedback["warning"]), [str(s) for s in feedback["suggestions"]])


def password_problem(
    password: str, *, username: str, email: str | None = None, min_score: int = DEFAULT_MIN_SCORE
) -> str | None:
    """Why this password is guessable, or None; ``min_score`` 0 turns the estimate off."""
    if password.casefold() in common_passwords():
        return "This password is too common."
    if username_key(password) == username_key(username):
        return "The password must not be the same as the username."
    if min_score <= 0:
        return None
    user_inputs = [username] + ([email.partition("@")[0]] if email else [])
    verdict = strength(password, user_inputs=user_inputs)
    if verdict.score >= min_score:
        return None
    # zxcvbn's feedback is fixed sentences: it never quotes the password back.
    sentences = ["This password is too easy to guess.", verdict.warning, *verdict.suggestions]
    return " ".join(sentence for sentence in sentences if sentence)


def check_password(
    password: str,
    *,
    username: str,
    email: str | None = None,
    field: str = "password",
    min_score: int = DEFAULT_MIN_SCORE,
) -> None:
    """Refuse a guessable password with ``WeakPassword`` naming the field.

    Callers pass ``min_score=settings.password_min_score`` for ``FLASK_PASSWORD_MIN_SCORE`` to apply,
    and ``email`` where the account has one.
    """
    if problem := password_problem(password, username=username, email=email, min_score=min_score):
        raise WeakPassword(problem, field=field)
