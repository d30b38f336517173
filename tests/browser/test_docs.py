"""/docs as a person sees it, in headless Chromium: clean summaries, working examples, no CSP errors."""

from __future__ import annotations

import json


def test_docs_page_reads_cleanly_and_its_examples_work(live_server, browser, tmp_path):
    page = browser.new_context(viewport={"width": 1280, "height": 1600}).new_page()
    console: list[tuple[str, str]] = []
    page.on("console", lambda message: console.append((message.type, message.text)))
    page.goto(f"{live_server}/docs")
    page.wait_for_selector(".opblock-summary-description")
    page.locator("#operations-auth-auth_login_login_post .opblock-summary").click()
    example = page.locator(
        "#operations-auth-auth_login_login_post .body-param__example, "
        "#operations-auth-auth_login_login_post .highlight-code"
    ).first
    example.wait_for()
    page.screenshot(path=str(tmp_path / "docs.png"))

    # Nothing the page does is refused by its own Content-Security-Policy, nor fails otherwise.
    assert [text for kind, text in console if kind == "error"] == []
    summaries = page.locator(".opblock-summary-description").all_inner_texts()
    assert len(summaries) > 15
    assert not [summary for summary in summaries if "`" in summary], summaries
    body = json.loads(example.inner_text())
    assert body["username"] != "string" and body["password"] != "string", body
