"""API.md section 8's request ids and liveness: ``X-Request-ID`` taken or made, echoed on every
answer, and carried by audit lines and the 500 body; ``/health/live`` answers without the database."""

from __future__ import annotations

import json
import logging
import re

import pytest

from tests.helpers import PASSWORD

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("given", ["abc", "A.b-c_9", "x" * 64])
def test_a_well_formed_id_is_kept_and_echoed(client, given):
    response = client.get("/health", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", ["", "x" * 65, "has space", "semi;colon", "é", "a/b", "a\tb"])
def test_anything_else_is_replaced_by_a_fresh_id(client, given):
    response = client.get("/health", headers={"X-Request-ID": given})
    assert HEX32.fullmatch(response.headers["X-Request-ID"])


def test_every_answer_carries_an_id_errors_and_early_refusals_too(client):
    answers = [
        client.get("/nowhere"),
        client.post("/api/auth/login", data="x"),  # 415 from the body gate, before any view
        client.post("/api/auth/login", json={"username": "x"}),  # 400
        client.get("/list/"),  # the compatibility 401
    ]
    ids = [response.headers.get("X-Request-ID") for response in answers]
    assert all(HEX32.fullmatch(value or "") for value in ids) and len(set(ids)) == len(ids)


def test_audit_lines_carry_the_request_id(client, make_user, caplog):
    caplog.set_level(logging.INFO, logger="authsvc.audit")
    make_user(username="ada")
    client.post(
        "/api/auth/login", json={"username": "ada", "password": PASSWORD}, headers={"X-Request-ID": "trace-1"}
    )
    client.post(
        "/api/auth/login",
        json={"username": "ada", "password": "wrong-password"},
        headers={"X-Request-ID": "trace-2"},
    )
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "authsvc.audit"]
    outcomes = {(line["request_id"], line["outcome"]) for line in lines if line["event"] == "sign_in"}
    assert outcomes == {("trace-1", "success"), ("trace-2", "failure")}


def test_the_500_body_and_header_share_the_request_id(app, client, monkeypatch):
    from authsvc.api.routes import meta

    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(meta, "check_database", lambda session: broken())
    response = client.get("/health", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.get_json()["request_id"] == "trace-500" == response.headers["X-Request-ID"]


def test_liveness_answers_without_the_database(tmp_path):
    from authsvc import create_app
    from authsvc.db import get_engine
    from tests.conftest import make_settings

    nowhere = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # refused at once: nothing listens
    app = create_app(make_settings(tmp_path, database_url=nowhere))
    try:
        client = app.test_client()
        assert client.get("/health").status_code == 503
        response = client.get("/health/live")
        assert response.status_code == 200 and response.get_json() == {"status": "success"}
    finally:
        get_engine(app).dispose()


def test_readiness_names_an_unmigrated_schema_while_liveness_stays_up(make_app):
    from sqlalchemy import MetaData

    from authsvc.db import get_engine

    app = make_app()
    metadata = MetaData()
    metadata.reflect(get_engine(app))
    metadata.drop_all(get_engine(app))
    client = app.test_client()
    ready = client.get("/health")
    assert ready.status_code == 503 and ready.get_json()["database"] == "not_migrated"
    assert "flask db upgrade" in ready.get_json()["message"]
    assert client.get("/health/live").status_code == 200
