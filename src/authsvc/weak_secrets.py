"""Is a configured secret plausibly random? Refuse the ones that plainly are not.

Length alone is no test: the sample's placeholder is longer than 32 bytes, and a key anyone can read in
this repository signs tokens anyone can forge. These checks only catch what no generator produces
(a placeholder, a phrase, a pattern); each is tuned so that real keys almost never trip it, even a
32-character hex key (128 bits), the smallest that passes the length rule. A leaf module: config uses it.
"""

from __future__ import annotations

import re

# Found anywhere in the value, ignoring case and punctuation (so change-me, CHANGE_ME and changeme
# match alike). Each is 6 letters or more: a random URL-safe key contains a given one about once in
# twenty million draws.
WELL_KNOWN = (
    "changeme",
    "changethis",
    "replaceme",
    "placeholder",
    "example",
    "secret",
    "password",
    "passwd",
    "insecure",
    "xxxxxx",
)
# A 32-character hex key has fewer than 8 different characters about once in 30 million draws
# (fewer than 10: once in 10,000, too often to refuse).
MIN_DISTINCT = 8
# Eight characters each one after the other (abcdefgh, 87654321): once in 30 million hex keys.
MAX_RUN = 8


def why_weak(value: str) -> str | None:
    """Why ``value`` cannot be a randomly generated key, as a phrase that never quotes it; else None."""
    folded = re.sub(r"[\W_]", "", value.lower())
    if any(word in folded for word in WELL_KNOWN):
        return "is a placeholder or contains a well-known word"
    if len(set(value)) < MIN_DISTINCT:
        return "has too few different characters"
    if _is_repetitive(value):
        return "repeats a short pattern"
    if _longest_run(value) >= MAX_RUN:
        return "contains a run such as abcdefgh or 12345678"
    return None


def _is_repetitive(value: str) -> bool:
    """Fewer than half of its three-character windows differ: ``k3Jq9Zx2Lp`` typed four times over
    has 10 different windows out of 38, a random key has all or nearly all of them different."""
    windows = [value[i : i + 3] for i in range(len(value) - 2)]
    return len(set(windows)) * 2 < len(windows)


def _longest_run(value: str) -> int:
    """The longest stretch of characters whose code points rise (or fall) by exactly one each step."""
    longest = current = 1
    step = 0
    for before, after in zip(value, value[1:], strict=False):
        difference = ord(after) - ord(before)
        if difference in (1, -1) and difference == step:
            current += 1
        elif difference in (1, -1):
            current, step = 2, difference
        else:
            current, step = 1, 0
        longest = max(longest, current)
    return longest
