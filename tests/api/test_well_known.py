"""``/.well-known/``: the JWKS and the two discovery documents, their caching, their absolute URLs
(from FLASK_PUBLIC_URL, never the request's Host), and hostile requests to them."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error

PATHS = [
    "/.well-known/jwks.json",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
]
DISCOVERY = PATHS[1:]


def test_jwks_under_hs256_is_empty_and_cacheable(client):
    response = client.get(PATHS[0])
    assert response.status_code == 200
    assert response.data == b'{"keys": []}'
    assert response.headers["Cache-Control"] == "public, max-age=600"


@pytest.mark.parametrize("path", DISCOVERY)
def test_discovery_document_has_absolute_urls_from_the_public_url(make_app, path):
    client = make_app(
        public_url="https://auth.example.com/base/", jwt_issuer="https://auth.example.com/base"
    ).test_client()
    response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert response.get_json() == {
        "issuer": "https://auth.example.com/base",
        "jwks_uri": "https://auth.example.com/base/.well-known/jwks.json",
        "introspection_endpoint": "https://auth.example.com/base/api/auth/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "subject_types_supported": ["public"],
        "service_documentation": "https://auth.example.com/base/docs",
    }
    assert b"evil.example" not in response.data  # a forged Host never reaches a cacheable document
    assert response.headers["Cache-Control"] == "public, max-age=600"


@pytest.mark.parametrize("path", DISCOVERY)
def test_discovery_defaults_to_the_development_url(client, path):
    assert client.get(path).get_json()["jwks_uri"] == "http://127.0.0.1:8000/.well-known/jwks.json"


@pytest.mark.parametrize("path", DISCOVERY)
def test_production_without_a_public_url_serves_no_discovery(make_app, path):
    response = make_app(environment="production").test_client().get(path)
    assert_error(response, 404, "not_found")
    assert make_app(environment="production").test_client().get(PATHS[0]).status_code == 200


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_only_get_is_allowed(client, path, method):
    response = getattr(client, method)(path, json={"keys": [{"kid": "evil"}]})
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "query",
    [
        "kid=../../etc/passwd",
        "jku=https://evil.example/",
        "x=%00%ff%ED%A0%80",
        "a=" + "b" * 5000,
        "keys[]=1&keys[]=2",
    ],
    ids=["traversal", "jku", "bad-bytes", "long", "array"],
)
def test_query_strings_change_nothing(client, path, query):
    plain = client.get(path)
    response = client.get(f"{path}?{query}")
    assert response.status_code == 200 and response.data == plain.data


@pytest.mark.parametrize("path", PATHS)
def test_a_body_or_a_token_changes_nothing(client, path):
    plain = client.get(path)
    response = client.get(
        path, data=b"\x00garbage", content_type="application/json", headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 200 and response.data == plain.data


@pytest.mark.parametrize("path", PATHS)
def test_head_answers_without_a_body(client, path):
    response = client.head(path)
    assert response.status_code == 200 and response.data == b""
