"""``GET /openapi.json`` and ``GET /docs``: the document is valid OpenAPI 3.1, describes every route the app
serves with the same pydantic models the views use, and the Swagger UI page works with no internet."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from pydantic import BaseModel

from authsvc.schemas import (
    AccountDeletion,
    AdminUserCreate,
    AuditPage,
    CodeIn,
    CompatPair,
    Credentials,
    CurrentPassword,
    Discovery,
    EmailChangeIn,
    EnrolmentOut,
    ErrorOut,
    ForgotIn,
    Health,
    IntrospectIn,
    IntrospectionOut,
    Jwks,
    LinkIn,
    Liveness,
    LoginAnswer,
    LoginIn,
    LoginOut,
    LogoutOut,
    MessageOut,
    MfaVerifyIn,
    Page,
    PasswordChange,
    RecoveryCodesOut,
    RefreshIn,
    ResendIn,
    ResetIn,
    RotatedPair,
    SessionList,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
    Welcome,
)
from tests.helpers import PASSWORD

# Endpoints that serve documents and pages, not API operations: the spec itself, Swagger UI and its
# assets, static files, and /demo (the reference single-page app, an HTML page).
# /metrics is operational (Prometheus scrapes it), not part of the API: left out on purpose.
NOT_OPERATIONS = {"static", "docs.openapi", "docs.docs", "docs.static", "demo.page", "metrics.scrape"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}  # werkzeug adds them to every rule; OpenAPI does not list them
REF = "#/components/schemas/"

# (method, path) -> (request body model, success status, success body model, needs credentials: a bearer
# token unless CREDENTIALS says otherwise)
OPERATIONS: dict[tuple[str, str], tuple[type[BaseModel] | None, str, type[BaseModel] | None, bool]] = {
    ("get", "/"): (None, "200", Welcome, False),
    ("get", "/health"): (None, "200", Health, False),
    ("get", "/health/live"): (None, "200", Liveness, False),
    ("post", "/token/"): (Credentials, "200", CompatPair, False),
    ("post", "/token/refresh/"): (RefreshIn, "200", RotatedPair, False),
    ("get", "/list/"): (None, "200", UserList, True),
    ("post", "/api/auth/register"): (UserCreate, "201", UserOut, False),
    ("post", "/api/auth/login"): (LoginIn, "200", LoginAnswer, False),
    ("get", "/api/auth/whoami"): (None, "200", UserOut, True),
    ("get", "/api/auth/refresh"): (None, "200", LoginOut, True),
    ("post", "/api/auth/refresh"): (None, "200", LoginOut, True),
    ("get", "/api/auth/logout"): (None, "200", LogoutOut, True),
    ("post", "/api/auth/logout"): (None, "200", LogoutOut, True),
    ("get", "/api/auth/sessions"): (None, "200", SessionList, True),
    ("delete", "/api/auth/sessions/{session_id}"): (None, "204", None, True),
    ("post", "/api/auth/password"): (PasswordChange, "200", LoginOut, True),
    ("post", "/api/auth/introspect"): (IntrospectIn, "200", IntrospectionOut, True),
    ("post", "/api/auth/password/forgot"): (ForgotIn, "202", MessageOut, False),
    ("post", "/api/auth/password/reset"): (ResetIn, "200", MessageOut, False),
    ("post", "/api/auth/email/verify"): (LinkIn, "200", UserOut, False),
    ("post", "/api/auth/email/verify/resend"): (ResendIn, "202", MessageOut, False),
    ("post", "/api/auth/email"): (EmailChangeIn, "202", MessageOut, True),
    ("post", "/api/auth/email/confirm"): (LinkIn, "200", UserOut, False),
    ("post", "/api/auth/mfa/totp"): (CurrentPassword, "200", EnrolmentOut, True),
    ("post", "/api/auth/mfa/totp/confirm"): (CodeIn, "200", RecoveryCodesOut, True),
    ("delete", "/api/auth/mfa/totp"): (CodeIn, "204", None, True),
    ("post", "/api/auth/mfa/recovery-codes"): (CodeIn, "200", RecoveryCodesOut, True),
    ("post", "/api/auth/mfa/verify"): (MfaVerifyIn, "200", LoginOut, False),
    ("delete", "/api/users/{user_id}/mfa"): (None, "204", None, True),
    ("post", "/api/users"): (AdminUserCreate, "201", UserOut, True),
    ("get", "/api/users/all"): (None, "200", Page, True),
    ("get", "/api/admin/audit"): (None, "200", AuditPage, True),
    ("get", "/api/users/{user_id}"): (None, "200", UserOut, True),
    ("patch", "/api/users/{user_id}"): (UserUpdate, "200", UserOut, True),
    ("delete", "/api/users/{user_id}"): (AccountDeletion, "204", None, True),
    ("get", "/.well-known/jwks.json"): (None, "200", Jwks, False),
    ("get", "/.well-known/openid-configuration"): (None, "200", Discovery, False),
    ("get", "/.well-known/oauth-authorization-server"): (None, "200", Discovery, False),
}
# Operations whose caller is not a user with a bearer token: service clients use HTTP Basic.
CREDENTIALS = {("post", "/api/auth/introspect"): [{"clientBasic": []}]}
# Operations anyone may call, that do more for a signed-in caller: a bearer token is optional.
OPTIONAL_SECURITY = {("post", "/api/auth/email/verify/resend"): [{}, {"bearer": []}]}
PROTECTED = sorted(key for key, (*_, protected) in OPERATIONS.items() if protected)
WITH_BODY = sorted(key for key, (model, *_) in OPERATIONS.items() if model is not None)
# A well-formed body for protected operations that take one, so the request gets as far as the token check.
SAMPLE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/auth/password"): {"current_password": PASSWORD, "new_password": "another-horse-battery"},
    ("post", "/api/users"): {"username": "new", "email": "new@example.com", "password": PASSWORD},
    ("patch", "/api/users/{user_id}"): {},
    ("delete", "/api/users/{user_id}"): {"current_password": PASSWORD},
    ("post", "/api/auth/introspect"): {"token": "x"},
    ("post", "/api/auth/email"): {"new_email": "new@example.com", "current_password": PASSWORD},
    ("post", "/api/auth/mfa/totp"): {"current_password": PASSWORD},
    ("post", "/api/auth/mfa/totp/confirm"): {"code": "123456"},
    ("delete", "/api/auth/mfa/totp"): {"code": "123456"},
    ("post", "/api/auth/mfa/recovery-codes"): {"code": "123456"},
}
SAMPLE_PATH_VALUES = {"user_id": "1", "session_id": "some-session"}


@pytest.fixture
def spec(client) -> dict[str, Any]:
    return client.get("/openapi.json").get_json()


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    return {
        (method, path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in methods
    }


def openapi_path(rule: str) -> str:
    """``/api/users/<int:user_id>`` -> ``/api/users/{user_id}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def routed_operations(app: Flask) -> set[tuple[str, str]]:
    return {
        (method.lower(), openapi_path(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in NOT_OPERATIONS
        for method in (rule.methods or set()) - IGNORED_METHODS
    }


def schema_ref(content_owner: dict[str, Any]) -> str | None:
    return content_owner.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")


def concrete(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda match: SAMPLE_PATH_VALUES[match.group(1)], path)


# --- the document -----------------------------------------------------------------------------------


def test_openapi_json_is_served(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] == "authsvc"


def test_document_is_valid_openapi_3_1(spec):
    validate(spec, cls=OpenAPIV31SpecValidator)  # raises with the first violation


def test_every_route_is_documented_and_nothing_else(app, spec):
    routed = routed_operations(app)
    documented = set(operations(spec))
    assert sorted(routed - documented) == [], "routes missing from /openapi.json"
    assert sorted(documented - routed) == [], "documented operations the app does not route"


def test_this_table_lists_every_operation(spec):
    """Keeps OPERATIONS honest: a new operation must be added here, with its models and security."""
    assert sorted(operations(spec)) == sorted(OPERATIONS)


def test_every_operation_documents_400_with_the_error_shape(spec):
    without = [
        key
        for key, op in operations(spec).items()
        if schema_ref(op["responses"].get("400", {})) != f"{REF}ErrorOut"
    ]
    assert without == []


def test_error_shape_is_error_out(spec):
    component = spec["components"]["schemas"]["ErrorOut"]
    assert set(component["required"]) == {"detail", "code"}
    assert set(component["properties"]) == set(ErrorOut.model_fields) == {"detail", "code", "errors"}


def test_client_basic_security_scheme(spec):
    assert spec["components"]["securitySchemes"]["clientBasic"] == {"type": "http", "scheme": "basic"}


def test_introspection_documents_a_form_body_as_well_as_json(spec):
    """RFC 7662 requests are form-encoded; JSON is accepted too. Both media types share one schema."""
    content = operations(spec)[("post", "/api/auth/introspect")]["requestBody"]["content"]
    ref = {"schema": {"$ref": f"{REF}IntrospectIn"}}
    assert content == {"application/json": ref, "application/x-www-form-urlencoded": ref}


def test_bearer_security_scheme(spec):
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_security_is_declared_exactly_on_protected_operations(spec, method, path):
    security = operations(spec)[(method, path)].get("security", spec.get("security"))  # or the default
    if OPERATIONS[(method, path)][3]:
        assert security == CREDENTIALS.get((method, path), [{"bearer": []}])
    else:
        assert security == OPTIONAL_SECURITY.get((method, path)) or not security


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_protected_operations_refuse_a_request_without_a_token(client, method, path):
    """The declared security is real: with everything else well-formed, no token is a 401."""
    body = SAMPLE_BODIES.get((method, path))
    response = client.open(concrete(path), method=method.upper(), json=body)
    assert response.status_code == 401, response.get_json()


@pytest.mark.parametrize(("method", "path"), WITH_BODY)
def test_request_bodies_are_the_views_models(spec, method, path):
    model = OPERATIONS[(method, path)][0]
    assert model is not None
    body = operations(spec)[(method, path)]["requestBody"]
    assert body["required"] is True
    assert schema_ref(body) == f"{REF}{model.__name__}"
    component = spec["components"]["schemas"][model.__name__]
    expected = model.model_json_schema()
    assert set(component["properties"]) == set(expected["properties"])
    assert set(component.get("required", [])) == set(expected.get("required", []))


def test_operations_without_a_body_document_none(spec):
    with_body = sorted(key for key, op in operations(spec).items() if "requestBody" in op)
    assert with_body == WITH_BODY


def test_register_takes_user_create(spec):
    body = operations(spec)[("post", "/api/auth/register")]["requestBody"]
    assert schema_ref(body) == f"{REF}UserCreate"
    component = spec["components"]["schemas"]["UserCreate"]
    assert set(component["required"]) == {"username", "email", "password"}
    assert component["properties"]["email"]["format"] == "email"


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_success_responses_are_the_views_models(spec, method, path):
    _, status, model, _ = OPERATIONS[(method, path)]
    response = operations(spec)[(method, path)]["responses"][status]
    if model is None:
        assert "content" not in response  # 204: no body
    else:
        assert schema_ref(response) == f"{REF}{model.__name__}"


# --- Swagger UI ---------------------------------------------------------------------------------------


class _References(HTMLParser):
    """Collects every ``src``/``href`` value, and the inline scripts a strict CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.spec_urls: list[str] = []
        self.inline_scripts = 0
        self._in_script_without_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        if values.get("data-spec-url"):
            self.spec_urls.append(values["data-spec-url"] or "")
        self._in_script_without_src = tag == "script" and not values.get("src")
        if any(name.startswith("on") for name in values):  # onload=... is inline script too
            self.inline_scripts += 1

    def handle_data(self, data: str) -> None:
        if self._in_script_without_src and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script_without_src = False


def parse(html: str) -> _References:
    parser = _References()
    parser.feed(html)
    parser.close()
    return parser


def test_docs_page_is_html_with_a_content_security_policy(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy


def test_docs_page_loads_nothing_from_elsewhere(client):
    html = client.get("/docs").get_data(as_text=True)
    assert "http://" not in html
    assert "https://" not in html
    assert not [url for url in parse(html).urls if url.startswith("//")]  # protocol-relative is elsewhere too


def test_docs_page_has_no_inline_script_its_policy_would_block(client):
    assert parse(client.get("/docs").get_data(as_text=True)).inline_scripts == 0


def test_every_docs_asset_is_served_by_the_app(client):
    references = parse(client.get("/docs").get_data(as_text=True))
    assert any(url.endswith(".js") for url in references.urls)
    assert any(url.endswith(".css") for url in references.urls)
    for url in references.urls:
        with client.get(url) as response:  # files are streamed: close them
            assert response.status_code == 200, url
            assert response.get_data(), url
            # With X-Content-Type-Options: nosniff a browser refuses a script or stylesheet of another type.
            if url.endswith(".js"):
                assert response.mimetype in ("text/javascript", "application/javascript"), url
            if url.endswith(".css"):
                assert response.mimetype == "text/css", url


def test_docs_page_reads_the_local_document(client):
    references = parse(client.get("/docs").get_data(as_text=True))
    assert references.spec_urls == ["/openapi.json"]


def test_index_links_to_the_docs(client):
    links = client.get("/").get_json()["links"]
    assert "/docs" in links.values()
    assert "/openapi.json" in links.values()


def test_every_summary_is_one_plain_sentence(spec):
    """Swagger UI shows the summary as plain text: a docstring's first line must be a whole sentence,
    without reST backticks (details go below a blank line, in the description)."""
    for (method, path), operation in operations(spec).items():
        summary = operation.get("summary", "")
        assert summary.endswith(".") and "`" not in summary, (method, path, summary)
