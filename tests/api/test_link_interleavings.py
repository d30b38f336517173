"""One interleaving of two requests with the same email change link, forced in process (the real
server races of tests/system/test_link_races.py only meet it by chance, and a server left running
there would be one more sender on PostgreSQL's shared schema).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from flask import Flask
from sqlalchemy import event

from authsvc.db import get_engine
from authsvc.mail import get_mail
from tests.helpers import PASSWORD, Api, bearer
from tests.mailserver import token_in


class Overtaker:
    """Holds request A right after it has read the user's row (at the first statement it sends after
    that read) and lets request B, on its own thread, run meanwhile: to completion, unless A holds a
    lock B must wait for, in which case A goes on after a moment. Either way exactly one may win.

    It watches SQL, not Python names, so it survives a refactor of the service or a fix of its order.
    """

    def __init__(self, app: Flask, request_b: Callable[[], Any]) -> None:
        self.engine = get_engine(app)
        self.request_b = request_b
        self.a_thread = threading.get_ident()
        self.user_read = False
        self.thread: threading.Thread | None = None
        self.b_answer: list[Any] = []
        self.b_done_first = False

    def before_statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() != self.a_thread or self.thread is not None:
            return
        if self.user_read:
            self.thread = threading.Thread(target=lambda: self.b_answer.append(self.request_b()))
            self.thread.start()
            self.thread.join(timeout=3)
            self.b_done_first = not self.thread.is_alive()
        elif re.search(r'\bFROM "?user"?\s', statement):
            self.user_read = True

    def __enter__(self) -> Overtaker:
        event.listen(self.engine, "before_cursor_execute", self.before_statement)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self.before_statement)
        if self.thread is not None:
            self.thread.join(timeout=30)


def test_a_confirmation_overtaken_by_one_with_the_same_link_is_invalid_link(make_app: Any) -> None:
    """What racing confirmations run into by chance, made to happen every time: request A has
    read the user (still at the old address) when request B, with the same link, commits the
    change. A's link is then used, so A must answer 400 invalid_link like every other loser; 409
    email_taken would tell the person that someone else holds the address, which is their own."""
    app = make_app()
    client = app.test_client()
    api = Api(client)
    mailed: list[EmailMessage] = []
    get_mail(app).transport = mailed.append
    assert api.register("dora").status_code == 201
    access = api.sign_in("dora")["access_token"]
    asked = client.post(
        "/api/auth/email",
        json={"new_email": "dora.new@example.com", "current_password": PASSWORD},
        headers=bearer(access),
    )
    assert asked.status_code == 202, asked.get_json()
    get_mail(app).deliver()
    [confirmation] = [message for message in mailed if message["To"] == "dora.new@example.com"]
    token = token_in(confirmation)

    def confirm() -> Any:
        return app.test_client().post("/api/auth/email/confirm", json={"token": token})

    with Overtaker(app, confirm) as overtaker:
        a = confirm()
    assert overtaker.thread is not None, "request A never read the user: the hook no longer fits"
    [b] = overtaker.b_answer
    answers = {"A": (a.status_code, a.get_json().get("code")), "B": (b.status_code, b.get_json().get("code"))}
    print(f"\nB finished while A waited: {overtaker.b_done_first}; answers {answers}")
    winner, loser = (b, a) if overtaker.b_done_first else (a, b)
    assert winner.status_code == 200, answers
    assert winner.get_json()["email"] == "dora.new@example.com"
    assert (loser.status_code, loser.get_json()["code"]) == (400, "invalid_link"), answers
