"""``X-Request-ID``: one id per request, taken from the client when it is well-formed (1-64 of
``[A-Za-z0-9._-]``), else made here; echoed on every response, and carried by every audit line and
log line written while the request runs (``audit.REQUEST_ID``), so a client's failed request can be
found in the logs."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from authsvc.audit import REQUEST_ID

HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,64}")


def current() -> str:
    """This request's id (made on first use, for an error raised before the hook ran)."""
    if "request_id" not in g:
        given = request.headers.get(HEADER, "")
        g.request_id = given if WELL_FORMED.fullmatch(given) else uuid.uuid4().hex
        g.request_id_token = REQUEST_ID.set(g.request_id)
    return str(g.request_id)


def _take() -> None:
    current()


def _echo(response: Response) -> Response:
    response.headers[HEADER] = current()
    return response


def _forget(_error: BaseException | None = None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        REQUEST_ID.reset(token)


def init_app(app: Flask) -> None:
    """Call last: the id is taken before every other hook runs, and echoed after them all."""
    app.before_request_funcs.setdefault(None, []).insert(0, _take)
    app.after_request(_echo)
    app.teardown_request(_forget)
