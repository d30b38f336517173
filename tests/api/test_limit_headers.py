"""The rate-limit storage lost between a request's check and its response.

Flask-Limiter reads the headline limit's window for the X-RateLimit headers after the view has run.
When Redis goes away in between (or another thread has just switched the limiter to counting in
memory, as the soak caught at the start of a Redis outage), that read failed and the whole response
became a 500: for a refresh, the new pair the view had just committed never reached the client,
whose spent token would then read as reuse. The response must go out, without those headers.
"""

from __future__ import annotations

import pytest
from limits.errors import StorageError

from authsvc.api.limits import limiter
from tests.helpers import Api, bearer


@pytest.mark.parametrize("fail_closed", [False, True], ids=["fallback", "fail-closed"])
def test_a_refresh_whose_limit_headers_cannot_be_read_still_returns_its_pair(
    make_app, monkeypatch, fail_closed
):
    app = make_app(ratelimit_enabled=True, ratelimit_fail_closed=fail_closed)
    client = app.test_client()
    api = Api(client)
    assert api.register("ada").status_code == 201
    pair = api.sign_in("ada")

    def unreachable(*_args: object, **_kwargs: object) -> None:
        # As in the soak: another request's thread has just switched the limiter to memory.
        limiter._storage_dead = not fail_closed
        raise StorageError(ConnectionError("Connection closed by server."))

    # The check (a hit) still works; only the window read behind the headers fails.
    monkeypatch.setattr(limiter.storage, "get_moving_window", unreachable)
    response = client.post("/api/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert response.status_code == 200, response.data
    fresh = response.get_json()
    monkeypatch.undo()
    assert client.get("/api/auth/whoami", headers=bearer(fresh["access_token"])).status_code == 200
