"""What a client reads from its own tokens without verifying them: when to refresh, which session.

The client never trusts these claims for anything but timing: the server checks every token it is
sent, and a resource server uses ``TokenVerifier``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jwt

# Refresh this share of a token's lifetime before it ends (at most ``refresh_margin`` seconds): 90 s
# of a 15-minute token, 0.2 s of a 2-second one, so short lifetimes still get most of their use.
MARGIN_SHARE = 0.1


def unverified_claims(token: str) -> dict[str, Any]:
    """The token's payload as written, unchecked; ``{}`` when it is no JWT at all."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


@dataclass(frozen=True, slots=True)
class Held:
    """A pair as the client keeps it: ``refresh_at`` is when to refresh, on the client's clock.

    ``refresh`` is ``None`` once presented: a refresh token goes to the server at most once.
    """

    access: str
    refresh: str | None
    refresh_at: float
    expires_at: float


def hold(access: str, refresh: str | None, *, sent_at: float | None, now: float, margin: float) -> Held:
    """Keep a pair, timing its refresh from the access token's own ``iat`` and ``exp``.

    With ``sent_at`` (the pair just came from sign-in or refresh), the lifetime ``exp - iat`` is
    counted from when the request left, less one second because authsvc writes ``iat`` in whole
    seconds: that needs no agreement between the two clocks. A pair handed in from elsewhere can only
    be timed by ``exp`` on this clock.
    """
    claims = unverified_claims(access)
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float):
        return Held(access, refresh, math.inf, math.inf)
    lifetime = float(exp - iat) if isinstance(iat, int | float) and exp > iat else max(float(exp) - now, 0.0)
    expires_at = sent_at + lifetime - 1.0 if sent_at is not None else float(exp)
    return Held(access, refresh, expires_at - min(margin, lifetime * MARGIN_SHARE), expires_at)
