"""A checked invariant, and the rules (margins and limits) the checks apply."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Rules:
    """``before``/``after``: the margin of an outage window around its fault, in which a 503 or a
    request with no answer is allowed. ``speed``: the share of the pre-fault throughput that counts as
    "full speed" again, which must come within ``recovery`` seconds of the fault's end."""

    duration: float
    warmup: float
    reuse_interval: float
    before: float = 0.5
    after: float = 2.0
    recovery: float = 5.0
    speed: float = 0.8
    rss_growth: float = 0.10
    max_throttled: float = 0.05
