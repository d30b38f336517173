"""Settings: read once from ``FLASK_*`` variables (and ``.env``), validated before anything starts.

Values arrive as strings. Flask's ``from_prefixed_env`` would JSON-decode them, which turns a numeric
secret into an int; so settings are validated from the raw strings and secrets stay strings.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from email.utils import parseaddr
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from authsvc import files, smtp
from authsvc.weak_secrets import why_weak

# The one place the version is read: the installed package's metadata (pyproject.toml's version).
VERSION = version("authsvc")
PREFIX = "FLASK_"
MIN_SECRET_BYTES = 32
SECRET_FIELDS = ("jwt_secret_key", "secret_key")
JWT_ALGORITHMS = ("HS256", "EdDSA", "ES256", "RS256")
# The development (and testing) FLASK_PUBLIC_URL: where `flask run -p 8000` serves. Never the request's
# Host header: discovery documents are cached by shared caches, and a forged Host would poison them.
DEVELOPMENT_PUBLIC_URL = "http://127.0.0.1:8000"
POSTGRES_SCHEME = "postgresql+psycopg"  # the driver this project installs
# Flask-Limiter storages whose client is installed (flask-limiter[redis]); async+ ones never work in Flask.
STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line naming the variable."""


CONFIG_ERROR_STATUS = 2  # the exit status of a process stopped by a bad setting


def report_config_error(error: ConfigError) -> None:
    """Write the error's one line to stderr: the whole report, never a traceback.

    Shared by ``create_app`` and the gunicorn hooks, so an operator reads the same line whichever
    process found the problem.
    """
    print(f"authsvc: configuration error: {error}", file=sys.stderr, flush=True)


def default_instance_path() -> Path:
    """``instance/`` at the project root: beside ``src/`` in a checkout, else the working directory."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return root / "instance"
    return Path.cwd() / "instance"


def _flask_flag(value: object) -> object:
    """A flag read the way Flask's command line reads FLASK_DEBUG: on unless empty, 0, false or no.

    Stricter parsing (pydantic's, where "off" is false) would let ``flask run`` start Werkzeug's
    debugger in production on a value the check had called off.
    """
    if isinstance(value, str):
        return bool(value) and value.lower() not in {"0", "false", "no"}
    return value


def _lowercase(value: object) -> object:
    """``FULL`` and ``full`` alike, as SQLite itself reads them."""
    return value.lower() if isinstance(value, str) else value


class Settings(BaseModel):
    """Every knob of docs/configuration.md, with its default."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    environment: Literal["development", "production", "testing"] = "development"
    debug: Annotated[bool, BeforeValidator(_flask_flag)] = False  # FLASK_DEBUG, Flask's own variable
    instance_path: Path = Field(default_factory=default_instance_path)
    database_url: str = ""
    jwt_secret_key: str = ""
    secret_key: str = ""
    jwt_algorithm: Literal["HS256", "EdDSA", "ES256", "RS256"] = "HS256"
    jwt_previous_secret_keys: str = ""
    jwt_keys_reload_interval: int = Field(60, ge=1)
    jwt_keys_unknown_kid_interval: int = Field(10, ge=1)
    public_url: str = ""
    jwt_access_token_expires: int = Field(900, ge=1)
    jwt_refresh_token_expires: int = Field(1_209_600, ge=1)
    jwt_refresh_reuse_interval: int = Field(0, ge=0)
    jwt_issuer: str = Field("authsvc", min_length=1)
    jwt_audience: str = Field("authsvc", min_length=1)
    jwt_leeway: int = Field(0, ge=0)
    bcrypt_rounds: int = Field(12, ge=4, le=31)
    password_min_score: int = Field(2, ge=0, le=4)
    max_content_length: int = Field(1_048_576, ge=1)
    db_pool_size: int = Field(5, ge=1)
    db_pool_timeout: float = Field(5.0, gt=0)
    db_connect_timeout: int = Field(3, ge=1)
    db_statement_timeout_ms: int = Field(5000, ge=0)
    db_pool_pre_ping: bool = False
    # full: the WAL is synced at every commit, so a power loss cannot take one back (a spent refresh
    # token working again); normal: synced at checkpoints only, faster, never corrupt.
    sqlite_synchronous: Annotated[Literal["full", "normal"], BeforeValidator(_lowercase)] = "full"
    ratelimit_enabled: bool = True
    ratelimit_storage_uri: str = "memory://"
    ratelimit_fail_closed: bool = False
    ratelimit_login_username: str = "5/minute;100/hour"
    ratelimit_login_ip: str = "30/minute"
    ratelimit_login_success: str = "20/minute;200/hour"
    max_sessions_per_user: int = Field(50, ge=1)
    ratelimit_register: str = "60/hour"
    ratelimit_refresh: str = "120/minute"
    ratelimit_introspect: str = "600/minute"
    trusted_proxies: int = Field(0, ge=0, le=10)
    cors_origins: str = ""
    list_full_records: bool = False
    registration: Literal["open", "closed"] = "open"
    compat_endpoints: bool = True
    # Operations (docs/operations.md): Prometheus metrics at /metrics, off unless asked for.
    metrics_enabled: bool = False
    metrics_token: str = Field("", repr=False)
    audit_retention_days: int = Field(90, ge=1, le=36500)  # flask prune-tokens drops older events
    # Email (docs/email.md): where messages go, what their links open, and who must verify.
    mail_url: str = Field("console://", repr=False)  # it may carry the mail password
    mail_from: str = ""
    mail_link_base: str = ""
    mail_templates: str = ""
    mail_timeout: float = Field(10.0, gt=0, le=300)
    mail_send_in_background: bool = True
    email_verification: Literal["off", "optional", "required"] = "optional"
    reset_token_expires: int = Field(1800, ge=1)
    verify_token_expires: int = Field(86400, ge=1)
    ratelimit_forgot_address: str = "5/hour"
    ratelimit_forgot_ip: str = "20/hour"

    @field_validator("instance_path", mode="before")
    @classmethod
    def _instance_path_is_absolute(cls, value: object) -> object:
        """A relative path (the sample's ``./instance``) is taken from the working directory, as a
        shell would; Flask itself refuses one with a traceback. Empty is refused: it would mean the
        working directory, whose mode start-up then tightens to 0700."""
        if isinstance(value, str | Path):
            if not str(value).strip():
                raise ValueError("must be a folder path such as ./instance or /var/lib/authsvc, not empty")
            return Path(os.path.abspath(Path(value).expanduser()))
        return value

    @field_validator("database_url")
    @classmethod
    def _url_has_scheme(cls, value: str) -> str:
        """``postgres://`` and ``postgresql://``, what hosting platforms hand out, mean the installed
        driver: SQLAlchemy knows no ``postgres`` dialect, and would pick a driver itself for the other."""
        if value and "://" not in value:
            raise ValueError("must be a SQLAlchemy URL such as sqlite:///path or postgresql+psycopg://...")
        scheme, _, rest = value.partition("://")
        if scheme.lower() in {"postgres", "postgresql"}:
            return f"{POSTGRES_SCHEME}://{rest}"
        return value

    @field_validator("public_url", "mail_link_base")
    @classmethod
    def _url_is_absolute(cls, value: str) -> str:
        return absolute_url(value)

    @field_validator("mail_url")
    @classmethod
    def _mail_url_parses(cls, value: str) -> str:
        """``console://`` or an SMTP URL the transport can use; the message never repeats the URL,
        which carries the mail password."""
        smtp.parse_mail_url(value)
        return value.strip()

    @field_validator("mail_from")
    @classmethod
    def _mail_from_is_an_address(cls, value: str) -> str:
        """``addr@host`` or ``Name <addr@host>``: one sender, no header-breaking characters."""
        value = value.strip()
        if not value:
            return value
        _, address = parseaddr(value)
        if "@" not in address or any(char in value for char in "\r\n\0"):
            raise ValueError("must be an email address such as no-reply@example.com or 'Name <addr@host>'")
        return value

    @field_validator("mail_templates")
    @classmethod
    def _templates_folder_exists(cls, value: str) -> str:
        if value and not Path(value).expanduser().is_dir():
            raise ValueError("must be a folder of message templates (see docs/email.md)")
        return str(Path(value).expanduser().resolve()) if value else value

    @field_validator(
        "ratelimit_login_username",
        "ratelimit_login_ip",
        "ratelimit_login_success",
        "ratelimit_register",
        "ratelimit_refresh",
        "ratelimit_introspect",
        "ratelimit_forgot_address",
        "ratelimit_forgot_ip",
    )
    @classmethod
    def _limit_parses(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must be a rate such as '5/minute' or '5/minute;100/hour'") from None
        return value

    @field_validator("ratelimit_storage_uri")
    @classmethod
    def _storage_uri_is_usable(cls, value: str) -> str:
        """Refuse here what Flask-Limiter would refuse with a traceback when the app starts. The
        message never repeats the URI: a Redis URL can carry a password."""
        usable = "must be memory:// or a Redis URL such as redis://localhost:6379/0"
        scheme, separator, _ = value.partition("://")
        if not separator or scheme.lower() not in STORAGE_SCHEMES:
            raise ValueError(f"{usable} (also rediss://, redis+unix://, redis+sentinel://, redis+cluster://)")
        hosts = urlsplit(value).netloc.rpartition("@")[2]
        try:
            for host in hosts.split(","):  # sentinel and cluster URLs list several host:port pairs
                urlsplit(f"//{host}").port  # noqa: B018  (parsing it is the check)
        except ValueError:
            raise ValueError(f"{usable}: a port is not a number from 0 to 65535") from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_exact(cls, value: str) -> str:
        """Each entry is one exact origin (or ``scheme://*.domain``), stored the way a browser writes
        its ``Origin`` header, so that matching can be plain equality and never a pattern."""
        entries = filter(None, (part.strip() for part in value.split(",")))
        return ",".join(normalise_origin(entry) for entry in entries)

    @property
    def cors_origin_list(self) -> list[str]:
        """The normalised entries: ``scheme://host[:port]``, a host possibly starting with ``*.``."""
        return [origin for origin in self.cors_origins.split(",") if origin]

    @property
    def previous_secret_list(self) -> list[str]:
        """The old HS256 secrets that still verify (FLASK_JWT_PREVIOUS_SECRET_KEYS), in order."""
        return [part.strip() for part in self.jwt_previous_secret_keys.split(",") if part.strip()]

    @property
    def public_base_url(self) -> str | None:
        """FLASK_PUBLIC_URL; in development and testing ``http://127.0.0.1:8000`` when unset; in
        production ``None`` when unset (no absolute URL is made up from a guess)."""
        if self.public_url:
            return self.public_url
        return None if self.is_production else DEVELOPMENT_PUBLIC_URL

    @property
    def mail_on(self) -> bool:
        """Mail is sent for real: FLASK_MAIL_URL names an SMTP server, not ``console://``."""
        return smtp.parse_mail_url(self.mail_url) is not None

    @property
    def link_base(self) -> str | None:
        """What every link in a message starts with: FLASK_MAIL_LINK_BASE, else the demo page at
        the public URL; ``None`` in production without FLASK_PUBLIC_URL (never the request's Host)."""
        if self.mail_link_base:
            return self.mail_link_base
        base = self.public_base_url
        return None if base is None else f"{base}/demo"

    @property
    def mail_sender(self) -> str:
        """FLASK_MAIL_FROM, else ``no-reply@`` the public URL's host."""
        if self.mail_from:
            return self.mail_from
        host = urlsplit(self.public_base_url or DEVELOPMENT_PUBLIC_URL).hostname or "localhost"
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return f"no-reply@{host}"
        return f"no-reply@[{host}]"  # RFC 5321: an address literal is written in brackets

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def access_lifetime(self) -> timedelta:
        return timedelta(seconds=self.jwt_access_token_expires)

    @property
    def refresh_lifetime(self) -> timedelta:
        return timedelta(seconds=self.jwt_refresh_token_expires)

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.instance_path / 'authsvc.sqlite3'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``FLASK_*`` variables; ``overrides`` win (tests inject them)."""
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {
            key[len(PREFIX) :].lower(): value for key, value in env.items() if key.startswith(PREFIX)
        }
        names = {key: PREFIX + key.upper() for key in raw}
        if "database_url" not in raw and env.get("DATABASE_URL"):
            raw["database_url"], names["database_url"] = env["DATABASE_URL"], "DATABASE_URL"
        raw.update(overrides)
        try:
            settings = cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "settings"
            raise ConfigError(f"{names.get(field, PREFIX + field.upper())}: {first['msg']}") from None
        settings.check_secrets()
        settings.check_debug()
        settings.check_mail()
        return settings

    def check_secrets(self) -> None:
        """Production refuses to start on a weak or missing secret instead of signing with it.

        A placeholder or a phrase is refused like a short secret: tokens signed with a key someone
        can guess are tokens anyone can forge. The message never repeats the value.
        """
        if not self.is_production:
            return
        for field in SECRET_FIELDS:
            value = getattr(self, field)
            if len(value.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"{PREFIX}{field.upper()}: must be set to at least {MIN_SECRET_BYTES} bytes in production"
                )
            if reason := why_weak(value):
                raise ConfigError(
                    f"{PREFIX}{field.upper()}: {reason}, so it is not a random key; make one with "
                    f"python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
        # An old secret still verifies tokens, so a guessable one forges them just as well.
        for position, value in enumerate(self.previous_secret_list, start=1):
            short = len(value.encode()) < MIN_SECRET_BYTES
            reason = f"is shorter than {MIN_SECRET_BYTES} bytes" if short else why_weak(value)
            if reason:
                raise ConfigError(f"{PREFIX}JWT_PREVIOUS_SECRET_KEYS: entry {position} {reason}")

    def check_debug(self) -> None:
        """Production refuses debug mode: it names exceptions in 500 answers, and under ``flask run``
        it serves Werkzeug's debugger, which runs whatever code a visitor types."""
        if self.is_production and self.debug:
            raise ConfigError(f"{PREFIX}DEBUG: must be off in production (debug mode exposes internals)")

    def check_mail(self) -> None:
        """Production that mails links needs the URL they open, and requiring verification needs
        mail that really leaves: a link to a guessed host, or a message only a log ever sees, would
        lock every new user out. (Production with console:// and no requirement starts: forgot
        password still answers 202, and logs an error.)"""
        if not self.is_production:
            return
        if self.email_verification == "required" and not self.mail_on:
            raise ConfigError(
                f"{PREFIX}MAIL_URL: must name an SMTP server (smtp://, smtp+starttls:// or smtps://) "
                f"when {PREFIX}EMAIL_VERIFICATION=required in production"
            )
        if self.mail_on and not self.public_url and not self.mail_link_base:
            raise ConfigError(
                f"{PREFIX}PUBLIC_URL: must be set in production when mail is on "
                "(every link in a message is built from it, never from a request's Host)"
            )

    def with_instance_secrets(self) -> Settings:
        """Fill unset secrets (development only) from files kept in the instance folder (0700), mode 600.

        Generated once so that tokens survive a restart, and never written to a log.
        """
        missing = {field: "" for field in SECRET_FIELDS if not getattr(self, field)}
        if not missing:
            return self
        files.private_dir(self.instance_path)
        for field in missing:
            missing[field] = _instance_secret(self.instance_path / f"{field}.secret")
        return self.model_copy(update=missing)


DEFAULT_PORTS = {"http": 80, "https": 443}


def absolute_url(value: str) -> str:
    """An absolute http(s) URL without query, fragment or credentials, kept without a trailing
    slash, so that ``f"{public_url}/.well-known/jwks.json"`` is always one well-formed URL."""
    if not value:
        return value
    parts = urlsplit(value.strip())
    usable = "must be an absolute http(s) URL such as https://auth.example.com"
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(usable)
    if parts.query or parts.fragment or "@" in parts.netloc or value.strip().endswith(("?", "#")):
        raise ValueError(f"{usable}, with no query, fragment or user")
    try:
        parts.port  # noqa: B018  (parsing it is the check)
    except ValueError:
        raise ValueError(f"{usable}: the port must be a number from 0 to 65535") from None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)


def normalise_origin(entry: str) -> str:
    """One ``FLASK_CORS_ORIGINS`` entry as a browser serialises an origin: scheme and host in lower
    case, the default port dropped, nothing else (no path, query, userinfo or pattern characters).

    ``https://*.example.com`` stands for one or more DNS labels before ``example.com``, on that
    scheme and port only. Refusing everything else at start-up is what lets the matcher be exact.
    """
    example = "an origin such as https://app.example.com or https://*.example.com"
    scheme, separator, rest = entry.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in DEFAULT_PORTS:
        raise ValueError(f"{entry!r} is not {example} (scheme http or https)")
    if not rest or any(char in rest for char in "/?#@\\"):
        raise ValueError(f"{entry!r} is not {example}: no path (not even a trailing /), query or user")
    host, port = _split_port(entry, rest)
    host = _normalise_host(entry, host.lower())
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port) <= 65535):
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    suffix = "" if port is None or int(port) == DEFAULT_PORTS[scheme] else f":{int(port)}"
    return f"{scheme}://{host}{suffix}"


def _split_port(entry: str, rest: str) -> tuple[str, str | None]:
    if rest.startswith("["):  # an IPv6 literal: [::1] or [::1]:8080
        host, bracket, after = rest.partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise ValueError(f"{entry!r}: an IPv6 host is written [address] or [address]:port")
        return host + "]", after[1:] if after else None
    host, colon, port = rest.partition(":")
    return host, port if colon else None


def _normalise_host(entry: str, host: str) -> str:
    if host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise ValueError(f"{entry!r}: {host} is not an IPv6 address") from None
    wildcard = host.startswith("*.")
    labels = host.removeprefix("*.").split(".")
    if not host.isascii():
        raise ValueError(f"{entry!r}: write an international host name in its ASCII (xn--) form")
    if not all(_DNS_LABEL.fullmatch(label) for label in labels) or len(host) > 253:
        raise ValueError(
            f"{entry!r}: the host must be a DNS name (letters, digits, inner hyphens), an IP address, "
            "or *. followed by a domain"
        )
    if labels[-1].isdigit():  # a dotted number is an IPv4 address, which browsers write in full
        try:
            address = ipaddress.IPv4Address(".".join(labels))
        except ValueError:
            raise ValueError(f"{entry!r}: {host} is not an IPv4 address") from None
        if wildcard:
            raise ValueError(f"{entry!r}: *. needs a domain name, not an IP address")
        return str(address)
    if wildcard and len(labels) < 2:
        raise ValueError(f"{entry!r}: *. must be followed by a domain of two or more labels")
    return host


def _instance_secret(path: Path) -> str:
    """The secret kept at ``path``, made on first use; every process racing to make it gets the same.

    The secret is written whole to a temporary file beside it (0600, fsynced) and only then linked to
    its name, which fails if another process got there first: the name never points at a file still
    being written, so a reader sees the whole winner or nothing.
    """
    kept = _read_secret(path)
    if kept is not None:
        return kept
    value = secrets.token_urlsafe(48)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process won the race: use its secret
            winner = _read_secret(path)
            if winner is None:  # gone again at once: only a person deleting it does that
                raise ConfigError(f"{_variable(path)}: {path} vanished while it was being read") from None
            return winner
    finally:
        os.unlink(temporary)
    _fsync_dir(path.parent)
    return value


def _variable(path: Path) -> str:
    """The variable a kept secret stands in for: ``jwt_secret_key.secret`` -> FLASK_JWT_SECRET_KEY."""
    return PREFIX + path.stem.upper()


def _read_secret(path: Path) -> str | None:
    """The kept secret, ``None`` when there is none yet; an empty one is refused, never used."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return None
    if not value:
        raise ConfigError(f"{_variable(path)}: the kept secret {path} is empty; delete it to make a new one")
    return value


def _fsync_dir(folder: Path) -> None:
    """Make the new name itself survive a crash, not only the file's contents."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
