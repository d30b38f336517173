"""services/passwords.py: the strength estimate behind register and password change (issue 10, 13f).

Its cost is held down by counting what zxcvbn is given, never by reading a clock.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from zxcvbn.matching import L33T_TABLE, enumerate_l33t_subs, relevant_l33t_subtable

from authsvc.config import ConfigError, Settings
from authsvc.exceptions import WeakPassword
from authsvc.services import passwords
from authsvc.services.passwords import check_password, password_problem
from tests.helpers import PASSWORD

USERNAME = "zorblaxter"  # a made-up word: no dictionary knows it, only the username does
STRONG_1024 = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(16))
L33T_CHARACTERS = "".join(sorted({char for chars in L33T_TABLE.values() for char in chars}))


@pytest.mark.parametrize(
    "password",
    ["aaaaaaaa", " " * 8, "zyxwvuts", "asdfghjkl;", "sunshine99", "Dragon123!", USERNAME + "2024"],
    ids=[
        "one-letter-repeated",
        "eight-spaces",
        "sequence",
        "keyboard-row",
        "near-common",
        "word-digits",
        "username-digits",
    ],
)
def test_weak_password_attack_is_refused_by_the_estimate(password):
    with pytest.raises(WeakPassword) as refused:
        check_password(password, username=USERNAME, field="new_password")
    assert refused.value.field == "new_password"
    assert password not in refused.value.detail
    assert refused.value.detail.startswith("This password is too easy to guess.")


def test_the_refusal_gives_the_estimators_warning_and_suggestions():
    problem = password_problem("aaaaaaaa", username=USERNAME)
    assert problem == (
        'This password is too easy to guess. Repeats like "aaa" are easy to guess. '
        "Add another word or two. Uncommon words are better. Avoid repeated words and characters."
    )


def test_the_username_is_a_user_input():
    """The same password passes for another user: it is weak only because it contains the username."""
    assert password_problem(USERNAME + "2024", username="someone-else") is None
    assert password_problem(USERNAME + "2024", username=USERNAME) is not None


def test_the_email_local_part_is_a_user_input():
    password = "wonderland.rabbit7"
    assert password_problem(password, username="someone", email="other@example.com") is None
    assert password_problem(password, username="someone", email="wonderland.rabbit@example.com") is not None


@pytest.mark.parametrize(
    "password",
    [PASSWORD, "Wq7!vR2#pL9@", "пароль-секрет-ключ-север", "x" + STRONG_1024[:72], STRONG_1024],
    ids=["conftest-password", "random-12", "cyrillic", "73-chars", "1024-chars"],
)
def test_strong_passwords_pass_whatever_their_length(password):
    """zxcvbn itself raises on more than 72 characters: a long password must not be refused for that."""
    assert password_problem(password, username="user1", email="user1@example.com") is None


def test_the_conftest_password_passes_at_the_default_score():
    assert passwords.DEFAULT_MIN_SCORE == 2
    assert passwords.strength(PASSWORD, user_inputs=["user1"]).score >= 2


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password zxcvbn is asked to score."""
    real = passwords.zxcvbn
    seen: list[str] = []

    def spy(password: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(password)
        return real(password, *args, **kwargs)

    monkeypatch.setattr(passwords, "zxcvbn", spy)
    return seen


@pytest.mark.parametrize(
    "password",
    [
        STRONG_1024,
        "x" * 1024,
        "ab" * 512,
        (L33T_CHARACTERS * 52)[:1024],
        (L33T_CHARACTERS[::-1] * 52)[:1024],
        ("1234567890" * 103)[:1024],
    ],
    ids=["hex", "one-char", "two-chars", "l33t-symbols", "l33t-symbols-reversed", "digits"],
)
def test_long_password_dos_only_a_bounded_prefix_is_scored(scored, password):
    """zxcvbn's work grows much faster than the length, and exponentially with the distinct l33t
    symbols (one dictionary pass per substitution table): both are bounded before it is called."""
    password_problem(password, username="user1")
    assert len(scored) == 1
    part = scored[0]
    assert password.startswith(part)
    assert len(part) <= passwords.SCORED_CHARACTERS
    substitutions = enumerate_l33t_subs(relevant_l33t_subtable(part, L33T_TABLE))
    assert len(substitutions) <= passwords.MAX_L33T_SUBSTITUTIONS


def test_the_l33t_bound_cuts_only_where_needed():
    """A prefix within the bound is scored whole; the cut falls just before the symbol that breaks it."""
    assert passwords.scored_part("p@ssw0rd-and-more") == "p@ssw0rd-and-more"
    part = passwords.scored_part(L33T_CHARACTERS)
    nxt = L33T_CHARACTERS[: len(part) + 1]
    assert (
        len(enumerate_l33t_subs(relevant_l33t_subtable(nxt, L33T_TABLE))) > passwords.MAX_L33T_SUBSTITUTIONS
    )


def test_min_score_zero_turns_the_estimate_off_but_not_the_list(scored):
    assert password_problem("aaaaaaaa", username=USERNAME, min_score=0) is None
    assert scored == []
    assert password_problem("password123", username=USERNAME, min_score=0) == "This password is too common."
    assert password_problem(USERNAME, username=USERNAME, min_score=0) is not None


def test_a_higher_min_score_refuses_more():
    password = "kq8#Lm2z"  # eight random characters: score 2
    assert password_problem(password, username=USERNAME) is None
    assert password_problem(password, username=USERNAME, min_score=4) is not None


def test_the_setting_defaults_to_the_module_default_and_is_bounded():
    assert Settings().password_min_score == passwords.DEFAULT_MIN_SCORE
    assert Settings.from_env({"FLASK_PASSWORD_MIN_SCORE": "0"}).password_min_score == 0
    for bad in ("5", "-1", "two"):
        with pytest.raises(ConfigError, match="FLASK_PASSWORD_MIN_SCORE"):
            Settings.from_env({"FLASK_PASSWORD_MIN_SCORE": bad})
