"""The application factory: the one place that wires settings, database, routes, errors and commands."""

from __future__ import annotations

from typing import Any, NoReturn
from urllib.parse import urlsplit

from flask import Request
from flask.json.provider import DefaultJSONProvider
from flask_openapi3.models.info import Info
from flask_openapi3.openapi import OpenAPI
from flask_openapi3.types import SecuritySchemesDict
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import RequestRedirect

from authsvc import audit, cli, cli_group, cli_keys, cli_mail, cli_mfa, db, extensions, mail, migrate
from authsvc.api import attempts, cors, errors, gate, headers, limits, observe, request_ids
from authsvc.api.routes import admin as admin_api
from authsvc.api.routes import auth as auth_api
from authsvc.api.routes import compat, demo, docs, introspect
from authsvc.api.routes import email as email_api
from authsvc.api.routes import keys as keys_api
from authsvc.api.routes import meta as meta_api
from authsvc.api.routes import mfa as mfa_api
from authsvc.api.routes import users as users_api
from authsvc.config import CONFIG_ERROR_STATUS, VERSION, ConfigError, Settings, report_config_error
from authsvc.keys import KeySealer
from authsvc.schemas import ErrorOut
from authsvc.services import keys as keys_service

SECURITY_SCHEMES: SecuritySchemesDict = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    # Service clients (flask clients create) on the introspection endpoint.
    "clientBasic": {"type": "http", "scheme": "basic"},
}


def create_app(settings: Settings | None = None) -> App:
    """Build the app; ``settings`` defaults to the environment (tests pass their own)."""
    if settings is None:
        settings = _settings_from_env()
    app = App(
        __name__,
        info=Info(title="authsvc", version=VERSION),
        security_schemes=SECURITY_SCHEMES,
        validation_error_status=400,
        validation_error_callback=errors.validation_error_response,
        validation_error_model=ErrorOut,
        doc_ui=False,
        instance_path=str(settings.instance_path),
    )
    configure(app, settings)
    register_extensions(app, settings)
    if migrate.serving():
        prepare_keys(app)
    if migrate.flask_run():
        mail.get_mail(app).start()  # gunicorn workers start theirs in post_worker_init
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


class App(OpenAPI):
    """The OpenAPI app, with redirects that never name a host."""

    def raise_routing_exception(self, request: Request) -> NoReturn:
        """Make werkzeug's slash (and merged-slash) redirects relative: path and query only.

        werkzeug builds ``RequestRedirect.new_url`` from the request's scheme and ``Host`` header, so
        ``POST /token`` with ``Host: evil.example`` answered 308 to ``http://evil.example/token/``.
        Routing exceptions never reach error handlers, and this hook is where Flask raises them:
        re-raising here changes exactly the routing redirects, before any response exists. An
        ``after_request`` fix-up would instead have to guess which responses were such redirects
        and would rewrite a ``Location`` a view set on purpose.
        """
        error = request.routing_exception
        if isinstance(error, RequestRedirect):
            target = urlsplit(error.new_url)
            # One leading slash: "//host/..." or "/\\host" would be read as another host.
            location = "/" + target.path.lstrip("/\\") + (f"?{target.query}" if target.query else "")
            relative = RequestRedirect(location)
            relative.code = error.code
            raise relative from None
        super().raise_routing_exception(request)


class SafeJSONProvider(DefaultJSONProvider):
    """JSON nested deeper than Python can recurse is invalid JSON (a 400), not a crash."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def _settings_from_env() -> Settings:
    """Read the environment once; a bad value stops start-up with one line naming the variable."""
    try:
        return Settings.from_env().with_instance_secrets()
    except ConfigError as error:
        report_config_error(error)
        raise SystemExit(CONFIG_ERROR_STATUS) from None


def configure(app: OpenAPI, settings: Settings) -> None:
    # Only what Flask reads, from the validated settings. (``from_prefixed_env`` would copy every
    # FLASK_* variable, secrets included and JSON-decoded, into app.config unchecked.) The
    # Flask-Limiter keys are set from the settings in ``limits.init_app``.
    app.config.update(
        SECRET_KEY=settings.secret_key,
        DEBUG=settings.debug,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        TESTING=settings.environment == "testing",
    )
    app.json = SafeJSONProvider(app)
    app.json.sort_keys = False  # section 1 fixes key order
    if settings.trusted_proxies:
        # Believe X-Forwarded-For only for as many hops as there are proxies we run; by default
        # none, so a client cannot pick its own IP (and its own rate-limit bucket) with a header.
        hops = settings.trusted_proxies
        # Wrapping wsgi_app is Flask's documented way to add middleware; typeshed sees a method.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def register_extensions(app: OpenAPI, settings: Settings) -> None:
    audit.init_app(app)
    db.init_app(app, settings)
    sealer = KeySealer(settings.secret_key)
    loader = keys_service.loader(db.get_engine(app), sealer=sealer, algorithm=settings.jwt_algorithm)
    extensions.init_app(app, settings, key_loader=loader)
    mail.init_app(app, settings)
    limits.init_app(app, settings)
    attempts.init_app(app, settings)
    cors.init_app(app, settings)  # only the listed origins may read responses and send cookies
    if db.get_engine(app).dialect.name == "sqlite" and migrate.serving():
        # The no-configuration path: a SQLite file that is migrated to the newest schema when served
        # (never by a command: `flask db downgrade` must stay down).
        migrate.upgrade_on_start(db.get_engine(app), settings.instance_path)


def prepare_keys(app: OpenAPI) -> None:
    """Load the signing keys before serving, making them on a first start with an asymmetric algorithm.

    A FLASK_SECRET_KEY that cannot open the stored keys stops start-up here, with one line. A database
    that cannot be read yet (down, or not migrated) is not fatal: the key ring loads on first use, and
    requests answer 503 until the database is back, as they would anyway.
    """
    try:
        extensions.get_codec(app).ring.reload()
    except ConfigError as error:
        report_config_error(error)
        db.get_engine(app).dispose()  # this app is never served: close what it opened
        raise SystemExit(CONFIG_ERROR_STATUS) from None
    except SQLAlchemyError:
        pass


def register_blueprints(app: OpenAPI) -> None:
    blueprints = (
        meta_api.bp,
        compat.bp,
        auth_api.bp,
        email_api.bp,
        mfa_api.bp,
        introspect.bp,
        users_api.bp,
        admin_api.bp,
        keys_api.bp,
    )
    for blueprint in blueprints:
        app.register_api(blueprint)
    app.register_blueprint(docs.bp)
    app.register_blueprint(demo.bp)
    gate.init_app(app)


def register_errorhandlers(app: OpenAPI) -> None:
    errors.init_app(app)
    headers.init_app(app)
    observe.init_app(app)
    request_ids.init_app(app)  # last: its hook runs before every other one


def register_commands(app: OpenAPI) -> None:
    app.cli = cli_group.OperatorCommands.replacing(app.cli)  # a failing database: one line, not a traceback
    cli.init_app(app)
    cli_keys.init_app(app)
    cli_mail.init_app(app)
    cli_mfa.init_app(app)
    migrate.init_app(app)
