"""``flask clients create | list | delete``: service clients for token introspection (API.md section 5).

``create`` prints ``client_id: ...`` and ``client_secret: ...`` once, on stdout and nothing else there;
the secret is stored only as a hash. Every refusal is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import re

import pytest
from click.testing import Result
from sqlmodel import Session, select

from authsvc.db import get_engine
from authsvc.models import ServiceClient
from authsvc.security import client_secret_hash
from authsvc.services.clients import NewClient
from tests.helpers import Api

CREATED = re.compile(r"client_id: ([A-Za-z0-9_-]+)\nclient_secret: ([A-Za-z0-9_-]+)\n")


def assert_one_line_refusal(result: Result) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def create(cli, name: str) -> tuple[str, str]:
    result = cli("clients", "create", name)
    assert result.exit_code == 0, result.output
    found = CREATED.fullmatch(result.stdout)
    assert found, result.stdout  # exactly the two lines, nothing else on stdout
    return found.group(1), found.group(2)


def test_create_prints_the_credentials_once_and_stores_only_a_hash(app, cli):
    client_id, secret = create(cli, "billing-api")
    assert len(secret) >= 43  # secrets.token_urlsafe(32): 256 bits
    with Session(get_engine(app)) as session:
        [row] = session.exec(select(ServiceClient)).all()
    assert (row.name, row.client_id) == ("billing-api", client_id)
    assert row.secret_hash == client_secret_hash(secret) and secret not in row.secret_hash
    listed = cli("clients", "list")
    assert secret not in listed.output


def test_created_credentials_work_for_introspection(client, cli, user_tokens):
    _, tokens = user_tokens
    client_id, secret = create(cli, "orders")
    credentials = NewClient("orders", client_id, secret)
    assert Api(client).is_active(tokens["access_token"], credentials)


def test_each_client_gets_its_own_id_and_secret(cli):
    first, second = create(cli, "one"), create(cli, "two")
    assert first[0] != second[0] and first[1] != second[1]


def test_a_duplicate_name_is_refused_in_one_line(cli):
    create(cli, "billing-api")
    line = assert_one_line_refusal(cli("clients", "create", "billing-api"))
    assert "billing-api" in line and "already exists" in line
    assert "client_secret" not in cli("clients", "create", "billing-api").stdout


@pytest.mark.parametrize(
    "name", ["Billing", "has space", "bad!", "-leading-dash", ".hidden", "x" * 65, "ünicode", "a\x00b"]
)
def test_invalid_names_are_refused_in_one_line(cli, name):
    line = assert_one_line_refusal(cli("clients", "create", "--", name))  # "--": a name, not an option
    assert "not a client name" in line
    assert "No service clients." in cli("clients", "list").output


def test_list_shows_names_ids_and_times_but_no_secret(cli):
    assert cli("clients", "list").output == "No service clients.\n"
    made = {name: create(cli, name) for name in ("zeta", "alpha")}
    result = cli("clients", "list")
    assert result.exit_code == 0
    header, *rows = result.output.splitlines()
    assert header.split() == ["name", "client_id", "created"]
    assert [row.split()[:2] for row in rows] == [["alpha", made["alpha"][0]], ["zeta", made["zeta"][0]]]
    for _, secret in made.values():
        assert secret not in result.output


def test_delete_removes_the_client(cli):
    client_id, _ = create(cli, "retired")
    result = cli("clients", "delete", "retired")
    assert result.exit_code == 0, result.output
    assert "retired" in result.output and client_id in result.output
    assert cli("clients", "list").output == "No service clients.\n"


def test_deleting_an_unknown_client_is_refused_in_one_line(cli):
    line = assert_one_line_refusal(cli("clients", "delete", "nobody"))
    assert "nobody" in line
