"""The SPA flow in a real browser: headless Chromium driven by Playwright against a live server
(the fixtures live in ``tests/browser/conftest.py``)."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlsplit

import pyotp
import pytest

from tests.helpers import GOOD_PASSWORD, PASSWORD
from tests.mailserver import SmtpSink, link_in


def sign_in_on(page, username: str) -> None:
    """Sign in through the demo's form and wait for the page to say who is signed in."""
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector(f"#who:has-text('as {username}')")


def test_spa_flow_in_chromium(live_server, browser, tmp_path):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server}/demo")
    page.wait_for_selector("#status:has-text('signed out')")

    # sign in: the username appears; the refresh token is an HttpOnly cookie script cannot read
    sign_in_on(page, "ada")
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    assert cookies["refresh_token"]["httpOnly"] is True
    assert cookies["refresh_token"]["sameSite"] == "Strict"
    assert cookies["refresh_token"]["path"] == "/api/auth"
    readable = {part.split("=")[0].strip() for part in page.evaluate("document.cookie").split(";")}
    assert readable == {"csrf_refresh_token"}  # the refresh token itself is invisible to script

    # force an expiry: the next call gets 401, refreshes silently through the cookie, and succeeds
    page.evaluate("window.authsvcDemo.expireNow()")
    page.click("#whoami")
    page.wait_for_selector("#refreshes:has-text('1')")
    assert page.text_content("#who") == "as ada"

    # the CSRF defence: the refresh cookie alone (no X-CSRF-Token) is refused and spends nothing
    refused = page.evaluate(
        "fetch('/api/auth/refresh', {method: 'POST', credentials: 'same-origin'}).then(r => r.status)"
    )
    assert refused == 403

    # reload: the in-memory token is gone, the cookie signs the page back in
    page.reload()
    page.wait_for_selector("#who:has-text('as ada')")
    page.click("#sessions")
    page.wait_for_selector("#session-list li")
    page.screenshot(path=str(tmp_path / "demo-signed-in.png"))

    # sign out: cookies cleared, whoami now fails
    page.click("#logout")
    page.wait_for_selector("#status:has-text('signed out')")
    assert "refresh_token" not in {cookie["name"] for cookie in context.cookies()}
    whoami = page.evaluate("fetch('/api/auth/whoami').then(r => r.status)")
    assert whoami == 401
    page.screenshot(path=str(tmp_path / "demo-signed-out.png"))
    assert (tmp_path / "demo-signed-in.png").stat().st_size > 0


def test_spa_flow_with_prefixed_cookies_in_chromium(secure_live_server, browser):
    """Issue 10: with Secure cookies the demo finds ``__Host-csrf_refresh_token`` and refreshes."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{secure_live_server}/demo")
    page.wait_for_selector("#status:has-text('signed out')")
    sign_in_on(page, "ada")
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    assert set(cookies) == {"__Secure-refresh_token", "__Host-csrf_refresh_token"}
    assert cookies["__Secure-refresh_token"]["httpOnly"] is True
    assert cookies["__Secure-refresh_token"]["secure"] is True
    readable = {part.split("=")[0].strip() for part in page.evaluate("document.cookie").split(";")}
    assert readable == {"__Host-csrf_refresh_token"}

    # a bare-named CSRF cookie planted beside it does not mislead the page: the prefixed one wins
    page.evaluate("document.cookie = 'csrf_refresh_token=planted; path=/'")
    page.evaluate("window.authsvcDemo.expireNow()")
    page.click("#whoami")
    page.wait_for_selector("#refreshes:has-text('1')")
    assert page.text_content("#who") == "as ada"

    page.reload()  # the cookie signs the page back in
    page.wait_for_selector("#who:has-text('as ada')")
    page.click("#logout")
    page.wait_for_selector("#status:has-text('signed out')")
    assert not {"__Secure-refresh_token", "__Host-csrf_refresh_token"} & {
        c["name"] for c in context.cookies()
    }


def test_an_origin_not_allowed_cannot_read_responses(live_server, browser):
    """A page on another origin (localhost instead of 127.0.0.1) gets no CORS grant."""
    other_origin = live_server.replace("127.0.0.1", "localhost")
    page = browser.new_context().new_page()
    page.goto(f"{other_origin}/demo")
    outcome = page.evaluate(
        """async (target) => {
            try {
                const response = await fetch(target + '/health', {credentials: 'include'});
                return 'read ' + response.status;
            } catch (error) {
                return 'blocked';
            }
        }""",
        live_server,
    )
    assert outcome == "blocked"
    # the allowed origin itself can read the same response
    allowed = browser.new_context().new_page()
    allowed.goto(f"{live_server}/demo")
    assert allowed.evaluate("fetch('/health').then(r => r.status)") == 200


def test_register_then_end_another_device_from_the_session_list(live_server, browser, tmp_path):
    """The demo as a newcomer uses it: create an account, sign in on two devices, end the other one."""
    laptop = browser.new_context().new_page()
    laptop.goto(f"{live_server}/demo")
    laptop.wait_for_selector("#status:has-text('signed out')")
    laptop.fill("#new-username", "grace")
    laptop.fill("#new-email", "grace@example.com")
    laptop.fill("#new-password", "aaaaaaaa")  # refused as too easy to guess: the reason is shown
    laptop.click("#register button[type=submit]")
    laptop.wait_for_selector("#error:has-text('guess')")
    laptop.fill("#new-password", PASSWORD)
    laptop.click("#register button[type=submit]")
    laptop.wait_for_selector("#notice:has-text('grace created')")
    assert laptop.input_value("#username") == "grace"

    sign_in_on(laptop, "grace")
    phone = browser.new_context().new_page()
    phone.goto(f"{live_server}/demo")
    phone.wait_for_selector("#status:has-text('signed out')")
    sign_in_on(phone, "grace")

    laptop.click("#sessions")
    laptop.wait_for_selector("#session-list li >> nth=1")
    times = laptop.locator("#session-list time").all_inner_texts()
    assert times and all("ago" in text or "now" in text for text in times), times
    assert "T" not in " ".join(times)  # no raw ISO timestamps
    laptop.screenshot(path=str(tmp_path / "demo-sessions.png"))
    laptop.click("#session-list .end-session")
    playwright_api = pytest.importorskip("playwright.sync_api")
    playwright_api.expect(laptop.locator("#session-list li")).to_have_count(1)
    assert "this device" in laptop.inner_text("#session-list")

    # the phone's session is over: its next call cannot refresh, and it shows signed out
    phone.evaluate("window.authsvcDemo.expireNow()")
    phone.click("#whoami")
    phone.wait_for_selector("#status:has-text('signed out')")


TOKEN = "Zk3v-Qx_9aLmN0pR2sT4uV6wX8yA1bC3dE5fG7hJ9kL"  # the shape of secrets.token_urlsafe(32)


class Stub:
    """Answers one endpoint from a queue of (status, body) and records what the page sent it."""

    def __init__(self, page, path: str, *answers: tuple[int, dict[str, object]]) -> None:
        self.sent: list[dict[str, object]] = []
        self.answers = list(answers)
        page.route(f"**{path}", self.answer)

    def answer(self, route) -> None:
        self.sent.append(route.request.post_data_json)
        status, body = self.answers.pop(0)
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


def test_a_mailed_link_is_spent_only_by_a_click_and_leaves_no_trace_in_history(
    live_server, browser, tmp_path
):
    """``#reset=<token>``: the load POSTs nothing and drops the fragment; a refused password keeps the
    form and the token; the next click changes the password."""
    page = browser.new_context().new_page()
    problems: list[str] = []  # script errors, and anything the Content-Security-Policy refused
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if "Security" in message.text else None)
    weak = {
        "detail": "This password is too easy to guess.",
        "code": "validation_error",
        "errors": [{"loc": ["body", "new_password"], "msg": "This password is too easy to guess."}],
    }
    reset = Stub(page, "/api/auth/password/reset", (400, weak), (200, {"message": "Password changed"}))
    page.goto(f"{live_server}/demo#reset={TOKEN}")
    page.wait_for_selector("#status:has-text('signed out')")
    assert page.is_visible("#reset-form") and not page.is_visible("#verify-panel")
    assert page.evaluate("location.href") == f"{live_server}/demo"  # the token is not in history
    assert TOKEN not in page.evaluate("location.href + document.referrer")
    assert reset.sent == []  # nothing spent on load (a mail scanner's GET is just such a load)

    page.fill("#reset-password", "aaaaaaaa")
    page.click("#reset-form button[type=submit]")
    page.wait_for_selector("#link-status:has-text('too easy to guess')")
    assert page.is_visible("#reset-form")
    page.screenshot(path=str(tmp_path / "stub-reset-refused.png"))
    page.fill("#reset-password", "tangerine-lighthouse-42")
    page.click("#reset-form button[type=submit]")
    page.wait_for_selector("#link-status:has-text('Password changed: sign in with your new password.')")
    assert not page.is_visible("#reset-form")
    assert reset.sent == [
        {"token": TOKEN, "new_password": "aaaaaaaa"},
        {"token": TOKEN, "new_password": "tangerine-lighthouse-42"},
    ]
    page.screenshot(path=str(tmp_path / "stub-reset-done.png"))
    assert problems == []


def test_verify_and_email_change_links_show_their_outcomes(live_server, browser, tmp_path):
    page = browser.new_context().new_page()
    user = {"id": 2, "username": "ada", "email": "ada@example.org", "email_verified": True}
    dead = {"detail": "This link is invalid or has expired.", "code": "invalid_link"}
    verify = Stub(page, "/api/auth/email/verify", (200, user), (400, dead))
    taken = {"detail": "That email address is already registered", "code": "email_taken"}
    confirm = Stub(page, "/api/auth/email/confirm", (200, user), (409, taken))

    page.goto(f"{live_server}/demo#verify={TOKEN}")
    page.wait_for_selector("#verify-button")
    assert verify.sent == [] and page.evaluate("location.hash") == ""
    page.dblclick("#verify-button")  # a double click spends the token once and keeps the success
    page.wait_for_selector("#link-status:has-text('Address verified: ada@example.org')")
    assert verify.sent == [{"token": TOKEN}]
    assert not page.is_visible("#verify-button")
    page.screenshot(path=str(tmp_path / "stub-verified.png"))

    page.evaluate(f"location.hash = 'verify={TOKEN}'")  # pasted into the same tab: hashchange
    page.click("#verify-button")
    page.wait_for_selector("#link-status:has-text('This link is invalid or has expired.')")
    assert page.evaluate("location.hash") == ""

    page.goto(f"{live_server}/demo#email={TOKEN}")
    page.click("#email-confirm-button")
    page.wait_for_selector("#link-status:has-text('Email changed to ada@example.org')")
    page.goto(f"{live_server}/demo#email={TOKEN}")
    page.click("#email-confirm-button")
    page.wait_for_selector("#link-status:has-text('already registered')")
    assert confirm.sent == [{"token": TOKEN}, {"token": TOKEN}]

    page.goto(f"{live_server}/demo#reset=not%20a%20token")  # mangled on the way: refused unsent
    page.wait_for_selector("#link-status:has-text('This link is invalid or has expired.')")
    assert not page.is_visible("#reset-form")


def mailed_link(sink: SmtpSink, count: int, kind: str, origin: str, to: str) -> str:
    """The link in the ``count``-th message the sink received, once it has arrived: to ``to``, and
    opening this server's ``/demo`` with a ``#kind=`` fragment."""
    received = sink.wait_for(count)[count - 1]
    assert received.rcpt_tos == (to,)
    link = link_in(received.message)
    assert re.fullmatch(rf"{re.escape(origin)}/demo#{kind}=[A-Za-z0-9_-]{{43}}", link), link
    return link


def open_link(context, link: str):
    """Open a mailed link in a new tab, as a mail client would; return the tab and the API calls it
    makes, so a test can show the load alone spent nothing."""
    page = context.new_page()
    calls: list[str] = []
    page.on("request", lambda request: calls.append(f"{request.method} {urlsplit(request.url).path}"))
    page.goto(link)
    page.wait_for_selector("#status:not(:has-text('checking'))")
    assert page.evaluate("location.hash") == "" and "#" not in page.evaluate("location.href")
    return page, calls


def test_verify_then_reset_by_mailed_links(mail_live_server, smtp_sink, browser, tmp_path):
    """A newcomer as the demo serves them: register, verify the address from the message the server
    really mailed, forget the password, reset it from the next message, and sign in with the new one."""
    origin, shots = mail_live_server, iter(range(1, 100))

    def shot(page, name: str) -> None:
        page.screenshot(path=str(tmp_path / f"mail-{next(shots):02}-{name}.png"), full_page=True)

    laptop = browser.new_context()
    page = laptop.new_page()
    page.goto(f"{origin}/demo")
    page.wait_for_selector("#status:has-text('signed out')")
    page.fill("#new-username", "lin")
    page.fill("#new-email", "lin@example.com")
    page.fill("#new-password", PASSWORD)
    page.click("#register button[type=submit]")
    page.wait_for_selector("#notice:has-text('Account lin created')")
    shot(page, "registered")

    # signed in, the page says the address is not verified yet, and offers to send the link again
    sign_in_on(page, "lin")
    assert page.text_content("#email-address") == "lin@example.com"
    assert page.text_content("#email-verified") == "not verified"
    shot(page, "signed-in-unverified")
    first = mailed_link(smtp_sink, 1, "verify", origin, "lin@example.com")
    page.click("#resend-verification")
    page.wait_for_selector("#notice:not(:empty)")
    assert page.text_content("#error") == ""
    newest = mailed_link(smtp_sink, 2, "verify", origin, "lin@example.com")

    # the newer link voided the first one: following it shows the refusal
    old_tab, _ = open_link(laptop, first)
    old_tab.click("#verify-button")
    old_tab.wait_for_selector("#link-status:has-text('This link is invalid or has expired.')")
    shot(old_tab, "voided-link-refused")
    old_tab.close()

    tab, calls = open_link(laptop, newest)
    tab.wait_for_selector("#who:has-text('as lin')")  # the cookie signs this tab in too
    assert tab.is_visible("#verify-button")
    assert "POST /api/auth/email/verify" not in calls  # opening the link spent nothing
    shot(tab, "verify-link-opened")
    tab.click("#verify-button")
    tab.wait_for_selector("#link-status:has-text('Address verified: lin@example.com')")
    tab.wait_for_selector("#email-verified:text-is('verified')")
    assert not tab.is_visible("#resend-verification")
    shot(tab, "verified")

    # signed out, forget the password
    tab.click("#logout")
    tab.wait_for_selector("#status:has-text('signed out')")
    assert tab.text_content("#link-status") == ""  # the last link's outcome goes with the session
    tab.fill("#forgot-email", "lin@example.com")
    tab.click("#forgot-form button[type=submit]")
    tab.wait_for_selector("#notice:has-text('If that address has an account, a reset link is on its way.')")
    shot(tab, "forgot-sent")
    reset = mailed_link(smtp_sink, 3, "reset", origin, "lin@example.com")

    # another device opens the reset link: a password the policy refuses keeps the form and the token
    phone = browser.new_context()
    device, calls = open_link(phone, reset)
    assert device.is_visible("#reset-form")
    assert "POST /api/auth/password/reset" not in calls
    device.fill("#reset-password", "aaaaaaaa")
    device.click("#reset-form button[type=submit]")
    device.wait_for_selector("#link-status:has-text('too easy to guess')")
    assert device.is_visible("#reset-form")
    shot(device, "reset-refused")
    device.fill("#reset-password", GOOD_PASSWORD)
    device.click("#reset-form button[type=submit]")
    device.wait_for_selector("#link-status:has-text('Password changed: sign in with your new password.')")
    assert not device.is_visible("#reset-form")
    shot(device, "password-changed")
    assert smtp_sink.wait_for(4)[3].message["Subject"] == "Your password was changed"

    # the old password fails, the new one signs in
    device.fill("#username", "lin")
    device.fill("#password", PASSWORD)
    device.click("#login button[type=submit]")
    device.wait_for_selector("#error:has-text('Invalid username or password')")
    shot(device, "old-password-refused")
    device.fill("#password", GOOD_PASSWORD)
    device.click("#login button[type=submit]")
    device.wait_for_selector("#who:has-text('as lin')")
    assert device.text_content("#email-verified") == "verified"
    shot(device, "signed-in-new-password")

    # the reset signed out the laptop's session, and its link works only once
    page.click("#whoami")
    page.wait_for_selector("#status:has-text('signed out')")
    again, _ = open_link(phone, reset)
    again.fill("#reset-password", "another-strong-passphrase-7")
    again.click("#reset-form button[type=submit]")
    again.wait_for_selector("#link-status:has-text('This link is invalid or has expired.')")
    shot(again, "spent-reset-link")


def wrong_totp(secret: str) -> str:
    """A six-digit code no step the server accepts now (or in the next minute) can match."""
    window = {pyotp.TOTP(secret).at(time.time() + offset) for offset in range(-30, 91, 30)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444") if code not in window)


def test_second_factor_on_sign_in_with_codes_and_off_in_chromium(live_server, browser, tmp_path):
    """Turn the second factor on (QR code, key, a first code, ten recovery codes copied once), sign in
    with a TOTP code and with a recovery code, see a used code refused and the fifth wrong one end
    the sign-in, and turn the factor off from a session signed in with it."""
    shots = iter(range(1, 100))

    def shot(name: str) -> None:
        page.screenshot(path=str(tmp_path / f"mfa-{next(shots):02}-{name}.png"), full_page=True)

    def sign_in_with(code: str) -> None:
        page.fill("#mfa-code", code)
        page.click("#mfa-form button[type=submit]")

    def sign_out() -> None:
        page.click("#logout")
        page.wait_for_selector("#status:has-text('signed out')")

    def start_sign_in() -> None:
        page.fill("#username", "hopper")
        page.fill("#password", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#mfa-form:visible")
        assert page.is_hidden("#login") and page.is_hidden("#register") and page.is_hidden("#forgot-form")

    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = context.new_page()
    problems: list[str] = []  # script errors, and anything the Content-Security-Policy refused
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if "Security" in message.text else None)
    enrolments: list[str] = []  # requests to POST /api/auth/mfa/totp (a wrong password is sent once)
    page.on("request", lambda r: enrolments.append(r.method) if r.url.endswith("/mfa/totp") else None)
    page.goto(f"{live_server}/demo")
    page.wait_for_selector("#status:has-text('signed out')")
    page.fill("#new-username", "hopper")
    page.fill("#new-email", "hopper@example.com")
    page.fill("#new-password", PASSWORD)
    page.click("#register button[type=submit]")
    page.wait_for_selector("#notice:has-text('Account hopper created')")
    sign_in_on(page, "hopper")
    assert page.text_content("#mfa-status") == "off"
    assert page.is_visible("#mfa-enable") and page.is_hidden("#mfa-manage")
    assert page.text_content("#mfa-session") == ""
    shot("signed-in-factor-off")

    # turning it on asks for the password; a wrong one is refused once, not retried as a stale token
    page.click("#mfa-enable")
    page.fill("#mfa-password", "not-my-password")
    page.click("#mfa-start-form button[type=submit]")
    page.wait_for_selector("#mfa-feedback:has-text('Current password is incorrect.')")
    assert enrolments == ["POST"]
    shot("wrong-password")
    page.fill("#mfa-password", PASSWORD)
    with page.expect_response("**/api/auth/mfa/totp") as answer:
        page.click("#mfa-start-form button[type=submit]")
    enrolment = answer.value.json()
    page.wait_for_selector("#mfa-qr svg")
    qr = page.locator("#mfa-qr svg").bounding_box()
    assert qr and qr["width"] > 100 and qr["height"] > 100  # drawn, not an unrendered element
    drawn = page.get_attribute("#mfa-qr svg path", "d")
    assert drawn and f'd="{drawn}"' in enrolment["qr_svg"]  # the server's code, as it drew it
    secret = page.text_content("#mfa-secret").replace(" ", "")
    assert secret == enrolment["secret"] and f"secret={secret}" in enrolment["otpauth_uri"]
    assert page.input_value("#mfa-password") == ""
    shot("qr-code-and-key")

    page.fill("#mfa-confirm-code", pyotp.TOTP(secret).now())
    page.click("#mfa-confirm")
    page.wait_for_selector("#mfa-status:text-is('on')")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{5}-[a-z2-7]{5}", code) for code in codes)
    assert "shown only once" in page.inner_text("#recovery")
    assert page.is_hidden("#mfa-setup") and page.text_content("#mfa-secret") == ""  # the key left the page
    page.click("#copy-recovery-codes")
    page.wait_for_selector("#copy-status:text-is('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == "\n".join(codes) + "\n"
    shot("recovery-codes-copied")
    page.click("#recovery-done")
    assert page.locator("#recovery-codes li").count() == 0

    # this session signed in with the password alone: turning the factor off needs a second-factor one
    page.fill("#mfa-manage-code", codes[9])
    page.click("#mfa-disable")
    page.wait_for_selector("#mfa-feedback:has-text('sign in with your second factor first')")
    assert "password alone" in page.text_content("#mfa-session")
    shot("turn-off-needs-second-factor")
    sign_out()

    # sign in: the password, then a wrong code (refused, try again), then the next step's code
    start_sign_in()
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert "#" not in page.evaluate("location.href")  # the mfa_token lives in memory only
    assert page.text_content("#status") == "password accepted, code needed"
    shot("code-step")
    sign_in_with(wrong_totp(secret))
    page.wait_for_selector("#mfa-error:text-is('That code is not valid.')")
    assert page.is_visible("#mfa-form")
    shot("wrong-code")
    sign_in_with(pyotp.TOTP(secret).at(time.time() + 30))  # the confirming step is spent
    page.wait_for_selector("#who:has-text('as hopper')")
    assert page.is_hidden("#mfa-form") and page.text_content("#mfa-status") == "on"
    assert "password and a code" in page.text_content("#mfa-session")
    shot("signed-in-with-totp")
    sign_out()

    # a recovery code signs in once; the second use of the same code is refused
    start_sign_in()
    sign_in_with(codes[0])
    page.wait_for_selector("#who:has-text('as hopper')")
    shot("signed-in-with-recovery-code")
    sign_out()
    start_sign_in()
    sign_in_with(codes[0])
    page.wait_for_selector("#mfa-error:text-is('That code is not valid.')")
    shot("used-recovery-code-refused")

    # that was the first wrong code of this sign-in; the fifth voids it, and the next try starts over
    for _ in range(4):
        with page.expect_response("**/api/auth/mfa/verify") as answer:
            sign_in_with(codes[0])
        assert answer.value.status == 401
        page.wait_for_selector("#mfa-error:text-is('That code is not valid.')")
    sign_in_with(codes[1])
    page.wait_for_selector("#error:has-text('sign in again')")
    assert page.is_visible("#login") and page.is_hidden("#mfa-form")
    assert page.evaluate("window.authsvcDemo.state.mfaToken") is None
    shot("too-many-wrong-codes")

    # a recovery code as typed from paper (upper case, spaces) still works; from that session (aal 2)
    # another one turns the factor off, and the password alone signs in again
    start_sign_in()
    sign_in_with(codes[1].upper().replace("-", " "))
    page.wait_for_selector("#who:has-text('as hopper')")
    page.reload()  # the refreshed session keeps its second factor
    page.wait_for_selector("#mfa-status:text-is('on')")
    assert "password and a code" in page.text_content("#mfa-session")
    page.fill("#mfa-manage-code", codes[2])
    page.click("#mfa-disable")
    page.wait_for_selector("#mfa-status:text-is('off')")
    assert page.is_visible("#mfa-enable") and page.is_hidden("#mfa-manage")
    shot("factor-off")
    sign_out()
    sign_in_on(page, "hopper")
    assert page.is_hidden("#mfa-form")
    shot("password-alone-again")
    assert problems == []


HOSTILE_QR = [
    '<svg onload="window.pwned = 1"><path d="M0 0h1"/></svg>',
    "<svg><script>window.pwned = 1</script></svg>",
    '<svg><foreignObject><img src="x" onerror="window.pwned = 1"></foreignObject></svg>',
    '<svg><a href="javascript:window.pwned = 1"><path d="M0 0h1"/></a></svg>',
    '<svg><animate attributeName="onclick" to="window.pwned = 1"/></svg>',
    '<svg width="9"></svg><img src="x" onerror="window.pwned = 1">',
    '<img src="x" onerror="window.pwned = 1">',
    "<svg><style>path { fill: red }</style></svg>",
    "not markup at all",
]


def test_the_qr_code_is_shown_only_when_it_is_plain_drawing(live_server, browser, tmp_path):
    """The page draws the enrolment's SVG only if every element and attribute is a drawing one; for
    anything else it shows the key alone, and nothing of the markup reaches the page.

    The policy alone would stop these handlers from running, so the test looks at the DOM instead:
    nothing hostile may be in it. (Chromium checks the policy while DOMParser builds its inert
    document too, so the console reports handlers and styles that never run.)"""
    page = browser.new_context().new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    enrolment = {
        "secret": "JBSWY3DPEHPK3PXP",
        "otpauth_uri": "otpauth://totp/authsvc:ada?secret=JBSWY3DPEHPK3PXP",
    }
    plain = '<svg width="20" height="20" class="segno"><path stroke="#000" d="M0 0.5h20"/></svg>'
    answers = [(200, {**enrolment, "qr_svg": markup}) for markup in [*HOSTILE_QR, plain]]
    enrol = Stub(page, "/api/auth/mfa/totp", *answers)
    page.goto(f"{live_server}/demo")
    page.wait_for_selector("#status:has-text('signed out')")
    sign_in_on(page, "ada")
    for markup in HOSTILE_QR:
        page.click("#mfa-enable")
        page.fill("#mfa-password", PASSWORD)
        page.click("#mfa-start-form button[type=submit]")
        page.wait_for_selector("#mfa-qr:has-text('The QR code could not be shown: type the key instead.')")
        assert page.locator("#mfa-qr *").count() == 0, markup
        assert page.text_content("#mfa-secret") == "JBSW Y3DP EHPK 3PXP"
        if markup == HOSTILE_QR[0]:
            page.screenshot(path=str(tmp_path / "qr-refused.png"), full_page=True)
        page.click("#mfa-setup .mfa-cancel")
    page.click("#mfa-enable")
    page.fill("#mfa-password", PASSWORD)
    page.click("#mfa-start-form button[type=submit]")
    page.wait_for_selector("#mfa-qr svg path", state="attached")
    assert len(enrol.sent) == len(HOSTILE_QR) + 1
    assert page.evaluate("window.pwned") is None
    assert problems == []
