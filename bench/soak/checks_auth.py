"""The invariants about accounts and tokens, from the client's records and the database's facts."""

from __future__ import annotations

from collections import Counter, defaultdict

from bench.soak.records import Facts, Records
from bench.soak.verdict import Rules, Verdict


def registrations(records: Records, facts: Facts) -> Verdict:
    """Every 201 is a user in the database, with the name and address it was sent with, and no 409'd
    attempt left one behind: each attempt sends an address never used before, so a 409'd attempt's
    address must be absent."""
    created = [r for r in records.registrations if r.status == 201]
    refused = [r for r in records.registrations if r.status == 409]
    missing = [r.username for r in created if facts.users.get(r.email.lower()) != r.username.lower()]
    leaked = [r.email for r in refused if r.email.lower() in facts.users]
    unknown = len(records.registrations) - len(created) - len(refused)
    ok = not missing and not leaked and bool(created) and bool(refused)
    detail = (
        f"{len(created)} answered 201, all present" if not missing else f"201 but missing: {missing[:5]}"
    ) + (f"; {len(refused)} answered 409, none present" if not leaked else f"; 409 but present: {leaked[:5]}")
    return Verdict("registrations", ok, detail + f"; {unknown} with no definite answer (not checked)")


def one_live_refresh_token(records: Records, facts: Facts) -> Verdict:
    """A live session's only live refresh token is its current one: every other refresh token the client
    saw in it is in the blocklist (spent or revoked) or expired."""
    seen: dict[str, list[str]] = defaultdict(list)
    for token in records.tokens.values():
        if token.kind == "refresh" and token.exp > facts.check_time and token.jti not in facts.blocklisted:
            seen[token.sid].append(token.jti)
    doubled = {
        sid: sorted({current, *seen.get(sid, [])})
        for sid, current in facts.live_sessions.items()
        if len({current, *seen.get(sid, [])}) > 1
    }
    detail = f"{len(facts.live_sessions)} live sessions, {sum(map(len, seen.values()))} client tokens in them"
    if doubled:
        detail += f"; sessions with more than one live refresh token: {list(doubled.items())[:3]}"
    return Verdict("one live refresh token per session", not doubled and bool(facts.live_sessions), detail)


def revoked_refused(records: Records, facts: Facts) -> Verdict:
    """Every token the client saw revoked or spent answers 401 now (access: whoami; refresh: refresh).
    Expired ones would be refused anyway, so the detail says how many were still unexpired."""
    answered = Counter(facts.probed.get(jti, -1) for jti in records.revoked)
    wrong = [(jti, facts.probed.get(jti)) for jti in records.revoked if facts.probed.get(jti) != 401]
    live = sum(1 for jti in records.revoked if records.tokens[jti].exp > facts.probe_time)
    reasons = Counter(records.revoked.values())
    detail = (
        f"{len(records.revoked)} probed ({live} not yet expired), by reason {dict(sorted(reasons.items()))}; "
        f"answers {dict(answered)}"
    )
    if wrong:
        detail += f"; not refused: {wrong[:5]}"
    return Verdict("revoked tokens refused", not wrong and live > 0, detail)


def spent_refresh_refused(records: Records, rules: Rules) -> Verdict:
    """No refresh succeeded with a token spent longer ago than the reuse interval. A token counts as
    spent from the end of its first successful refresh (the server rotated it before answering), so a
    later request that *left* more than the interval after that is a replay the server must refuse."""
    by_jti: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for refresh in records.refreshes:
        by_jti[refresh.jti].append((refresh.started, refresh.ended, refresh.status))
    replays, refused, broken = 0, 0, []
    for jti, attempts in by_jti.items():
        successes = [ended for _, ended, status in attempts if status == 200]
        if not successes:
            continue
        spent_by = min(successes)
        for started, _, status in attempts:
            if started > spent_by + rules.reuse_interval:
                replays += 1
                refused += status == 401
                if status == 200:
                    broken.append(jti)
    detail = (
        f"{replays} replays of tokens spent more than {rules.reuse_interval:g} s before: {refused} got 401"
    )
    if broken:
        detail += f"; succeeded: {broken[:5]}"
    return Verdict(
        "no refresh with a spent token outside the reuse interval", not broken and replays > 0, detail
    )
