"""config.py: settings read from FLASK_* variables, validated before anything starts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from authsvc import create_app
from authsvc.config import MIN_SECRET_BYTES, ConfigError, Settings

STRONG = "_M65BT2jP0Uv3ANPZ7wgU9-0HMEihgsL"  # 32 random-looking bytes: production refuses "s" * 32


def test_defaults():
    settings = Settings.from_env({})
    assert settings.environment == "development"
    assert not settings.is_production
    assert settings.database_url == ""
    assert settings.sqlalchemy_url == f"sqlite:///{settings.instance_path / 'authsvc.sqlite3'}"
    assert settings.instance_path.name == "instance"
    assert settings.jwt_secret_key == settings.secret_key == ""
    assert settings.jwt_access_token_expires == 900
    assert settings.jwt_refresh_token_expires == 1_209_600
    assert settings.jwt_refresh_reuse_interval == 0
    assert settings.jwt_issuer == settings.jwt_audience == "authsvc"
    assert settings.jwt_leeway == 0
    assert settings.bcrypt_rounds == 12
    assert settings.max_content_length == 1_048_576
    assert settings.db_pool_size == 5
    assert settings.db_pool_timeout == 5.0
    assert settings.db_connect_timeout == 3
    assert settings.db_statement_timeout_ms == 5000
    assert settings.sqlite_synchronous == "full"
    assert settings.ratelimit_enabled is True
    assert settings.ratelimit_storage_uri == "memory://"
    assert settings.ratelimit_login_username == "5/minute;100/hour"
    assert settings.ratelimit_login_ip == "30/minute"
    assert settings.ratelimit_register == "60/hour"
    assert settings.ratelimit_refresh == "120/minute"
    assert settings.trusted_proxies == 0
    assert settings.cors_origin_list == []


def test_prefixed_variables_are_parsed():
    settings = Settings.from_env(
        {
            "FLASK_ENVIRONMENT": "testing",
            "FLASK_DATABASE_URL": "postgresql+psycopg://app@db.internal/authsvc",
            "FLASK_JWT_ACCESS_TOKEN_EXPIRES": "60",
            "FLASK_JWT_REFRESH_TOKEN_EXPIRES": "3600",
            "FLASK_JWT_REFRESH_REUSE_INTERVAL": "10",
            "FLASK_JWT_ISSUER": "issuer.example",
            "FLASK_JWT_AUDIENCE": "audience.example",
            "FLASK_JWT_LEEWAY": "5",
            "FLASK_BCRYPT_ROUNDS": "4",
            "FLASK_MAX_CONTENT_LENGTH": "2048",
            "FLASK_DB_POOL_SIZE": "7",
            "FLASK_DB_POOL_TIMEOUT": "2.5",
            "FLASK_DB_CONNECT_TIMEOUT": "9",
            "FLASK_DB_STATEMENT_TIMEOUT_MS": "0",
            "FLASK_APP": "authsvc:create_app",  # Flask's own variables are not settings: ignored
            "JWT_ACCESS_TOKEN_EXPIRES": "1",  # no prefix: ignored
        }
    )
    assert settings.environment == "testing"
    assert settings.database_url == "postgresql+psycopg://app@db.internal/authsvc"
    assert settings.sqlalchemy_url == settings.database_url
    assert settings.jwt_access_token_expires == 60
    assert settings.access_lifetime.total_seconds() == 60
    assert settings.jwt_refresh_token_expires == 3600
    assert settings.refresh_lifetime.total_seconds() == 3600
    assert settings.jwt_refresh_reuse_interval == 10
    assert settings.jwt_issuer == "issuer.example"
    assert settings.jwt_audience == "audience.example"
    assert settings.jwt_leeway == 5
    assert settings.bcrypt_rounds == 4
    assert settings.max_content_length == 2048
    assert settings.db_pool_size == 7
    assert settings.db_pool_timeout == 2.5
    assert settings.db_connect_timeout == 9
    assert settings.db_statement_timeout_ms == 0


def test_throttling_proxy_and_cors_settings_are_parsed():
    settings = Settings.from_env(
        {
            "FLASK_RATELIMIT_ENABLED": "false",
            "FLASK_RATELIMIT_STORAGE_URI": "redis://localhost:6379/0",
            "FLASK_RATELIMIT_LOGIN_USERNAME": "3/minute;50/day",
            "FLASK_RATELIMIT_LOGIN_IP": "10/minute",
            "FLASK_RATELIMIT_REGISTER": "5/hour",
            "FLASK_RATELIMIT_REFRESH": "60/minute",
            "FLASK_TRUSTED_PROXIES": "1",
            "FLASK_CORS_ORIGINS": " https://app.example.com , http://localhost:5173,",
        }
    )
    assert settings.ratelimit_enabled is False
    assert settings.ratelimit_storage_uri == "redis://localhost:6379/0"
    assert settings.ratelimit_login_username == "3/minute;50/day"
    assert (settings.ratelimit_login_ip, settings.ratelimit_register) == ("10/minute", "5/hour")
    assert settings.ratelimit_refresh == "60/minute"
    assert settings.trusted_proxies == 1
    assert settings.cors_origin_list == ["https://app.example.com", "http://localhost:5173"]


def test_overrides_win_over_the_environment():
    settings = Settings.from_env({"FLASK_BCRYPT_ROUNDS": "10"}, bcrypt_rounds=4)
    assert settings.bcrypt_rounds == 4


def test_database_url_fallback():
    url = "postgresql+psycopg://fallback@host/db"
    assert Settings.from_env({"DATABASE_URL": url}).database_url == url


def test_flask_database_url_wins_over_database_url():
    settings = Settings.from_env(
        {"FLASK_DATABASE_URL": "sqlite:////tmp/first.sqlite3", "DATABASE_URL": "postgresql+psycopg://h/db"}
    )
    assert settings.database_url == "sqlite:////tmp/first.sqlite3"


@pytest.mark.parametrize("value", ["12345678901234567890123456789012345", "1e10", "true", "null", "[1, 2]"])
def test_secret_stays_a_string(value):
    settings = Settings.from_env({"FLASK_JWT_SECRET_KEY": value, "FLASK_SECRET_KEY": value})
    assert settings.jwt_secret_key == value
    assert settings.secret_key == value
    assert isinstance(settings.jwt_secret_key, str)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FLASK_JWT_ACCESS_TOKEN_EXPIRES", "abc"),
        ("FLASK_JWT_ACCESS_TOKEN_EXPIRES", "0"),
        ("FLASK_JWT_REFRESH_TOKEN_EXPIRES", "-1"),
        ("FLASK_JWT_LEEWAY", "-5"),
        ("FLASK_BCRYPT_ROUNDS", "3"),
        ("FLASK_BCRYPT_ROUNDS", "32"),
        ("FLASK_DATABASE_URL", "nonsense"),
        ("FLASK_ENVIRONMENT", "staging"),
        ("FLASK_DB_POOL_TIMEOUT", "soon"),
        ("FLASK_SQLITE_SYNCHRONOUS", "off"),
        ("FLASK_SQLITE_SYNCHRONOUS", "2"),
        ("FLASK_RATELIMIT_LOGIN_IP", "lots"),
        ("FLASK_RATELIMIT_ENABLED", "maybe"),
        ("FLASK_TRUSTED_PROXIES", "11"),
        ("FLASK_CORS_ORIGINS", "app.example.com"),
        ("FLASK_CORS_ORIGINS", "https://app.example.com/path"),
    ],
)
def test_bad_value_is_one_line_naming_the_variable(variable, value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable}:")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("HTTPS://App.Example.COM", ["https://app.example.com"]),
        (
            "https://app.example.com:443,http://app.example.com:80",
            ["https://app.example.com", "http://app.example.com"],
        ),
        ("https://app.example.com:8443", ["https://app.example.com:8443"]),
        ("https://*.Example.com", ["https://*.example.com"]),
        ("http://127.0.0.1:5173", ["http://127.0.0.1:5173"]),
        ("http://[0:0::1]:5173", ["http://[::1]:5173"]),
        ("https://xn--bcher-kva.example", ["https://xn--bcher-kva.example"]),
    ],
)
def test_cors_origins_are_normalised_as_browsers_send_them(value, normalised):
    """A browser's Origin has a lower-case host and no default port; entries are matched exactly,
    so they are written the same way."""
    assert Settings.from_env({"FLASK_CORS_ORIGINS": value}).cors_origin_list == normalised


@pytest.mark.parametrize(
    "entry",
    [
        "app.example.com",
        "ftp://app.example.com",
        "https://",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://app.example.com?x=1",
        "https://app.example.com#top",
        "https://user@app.example.com",
        "https://user:pass@app.example.com",
        "https://app.example.com:",
        "https://app.example.com:0",
        "https://app.example.com:65536",
        "https://app.example.com:+80",
        "https://app.example.com:8a",
        "https://exa_mple.com",
        "https://-app.example.com",
        "https://app-.example.com",
        "https://app..example.com",
        "https://app.example.com.",
        "https://" + "a" * 64 + ".example.com",
        "https://app example.com",
        "https://bücher.example",
        "*",
        "https://*",
        "https://*.com",
        "https://*.*.example.com",
        "https://a.*.example.com",
        "https://*example.com",
        "https://*.127.0.0.1",
        "https://^app.example.com$",
        "https://app.example.(com|net)",
        "https://app\\.example\\.com",
        "https://app.example.com.+",
        "https://[app].example.com",
        "https://[::1",
        "https://[nonsense]",
        "https://300.0.0.1",
        "https://127.1",
    ],
)
def test_cors_origin_that_is_not_an_exact_origin_is_refused(entry):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FLASK_CORS_ORIGINS": f"https://fine.example.com,{entry}"})
    message = str(caught.value)
    assert message.startswith("FLASK_CORS_ORIGINS:")
    assert "\n" not in message


def test_bad_database_url_fallback_names_the_variable_that_was_set():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DATABASE_URL": "nonsense"})
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("DATABASE_URL:")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "FLASK_JWT_SECRET_KEY"),
        ({"FLASK_SECRET_KEY": STRONG}, "FLASK_JWT_SECRET_KEY"),
        ({"FLASK_JWT_SECRET_KEY": STRONG}, "FLASK_SECRET_KEY"),
        ({"FLASK_JWT_SECRET_KEY": STRONG[:-1], "FLASK_SECRET_KEY": STRONG}, "FLASK_JWT_SECRET_KEY"),
        ({"FLASK_JWT_SECRET_KEY": STRONG, "FLASK_SECRET_KEY": STRONG[:-1]}, "FLASK_SECRET_KEY"),
    ],
    ids=["both-missing", "jwt-missing", "flask-missing", "jwt-31-bytes", "flask-31-bytes"],
)
def test_production_refuses_missing_or_short_secrets(env, named):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FLASK_ENVIRONMENT": "production", **env})
    assert str(caught.value).startswith(f"{named}:")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "secret",
    [STRONG, "p5vhs2l7KXUWVdspBTqfdPO79JFcOPhTTkgNfi_KqSsBCCo6fBlYCoISonkK7RRq", "ψЖёΩщЛдЪλФюδЬπЯз"],
    ids=["32-bytes", "64-bytes", "16-chars-32-bytes"],
)
def test_production_accepts_32_byte_secrets(secret):
    settings = Settings.from_env(
        {"FLASK_ENVIRONMENT": "production", "FLASK_JWT_SECRET_KEY": secret, "FLASK_SECRET_KEY": secret}
    )
    assert settings.is_production
    assert settings.jwt_secret_key == settings.secret_key == secret


def test_development_accepts_short_secrets():
    settings = Settings.from_env({"FLASK_JWT_SECRET_KEY": "short", "FLASK_SECRET_KEY": "short"})
    assert settings.jwt_secret_key == "short"


def test_instance_secrets_are_generated_once_and_kept_private(tmp_path: Path):
    instance = tmp_path / "instance"
    first = Settings(instance_path=instance).with_instance_secrets()

    files = {name: instance / f"{name}.secret" for name in ("jwt_secret_key", "secret_key")}
    for path in files.values():
        assert path.is_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.jwt_secret_key == files["jwt_secret_key"].read_text().strip()
    assert first.secret_key == files["secret_key"].read_text().strip()
    assert len(first.jwt_secret_key.encode()) >= MIN_SECRET_BYTES
    assert len(first.secret_key.encode()) >= MIN_SECRET_BYTES
    assert first.jwt_secret_key != first.secret_key

    second = Settings(instance_path=instance).with_instance_secrets()
    assert (second.jwt_secret_key, second.secret_key) == (first.jwt_secret_key, first.secret_key)
    assert second.with_instance_secrets() == second


def test_instance_secrets_keep_a_given_secret(tmp_path: Path):
    instance = tmp_path / "instance"
    settings = Settings(instance_path=instance, jwt_secret_key=STRONG).with_instance_secrets()
    assert settings.jwt_secret_key == STRONG
    assert settings.secret_key
    assert not (instance / "jwt_secret_key.secret").exists()
    assert (instance / "secret_key.secret").is_file()


def test_instance_secrets_untouched_when_both_are_set(tmp_path: Path):
    instance = tmp_path / "instance"
    settings = Settings(instance_path=instance, jwt_secret_key=STRONG, secret_key=STRONG)
    assert settings.with_instance_secrets() is settings
    assert not instance.exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FLASK_BCRYPT_ROUNDS", "3"),
        ("FLASK_JWT_ACCESS_TOKEN_EXPIRES", "abc"),
        ("FLASK_SQLITE_SYNCHRONOUS", "off"),
    ],
)
def test_create_app_exits_on_a_bad_value(monkeypatch, capsys, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as caught:
        create_app()
    assert caught.value.code not in (None, 0)
    err = capsys.readouterr().err
    assert variable in err
    assert len(err.strip().splitlines()) == 1


def test_create_app_exits_on_a_weak_production_secret(monkeypatch, capsys):
    monkeypatch.setenv("FLASK_ENVIRONMENT", "production")
    monkeypatch.setenv("FLASK_JWT_SECRET_KEY", "too-short")
    monkeypatch.setenv("FLASK_SECRET_KEY", STRONG)
    with pytest.raises(SystemExit):
        create_app()
    assert "FLASK_JWT_SECRET_KEY" in capsys.readouterr().err


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field):
    """Each setting has a commented line in .env.sample and a row in docs/configuration.md's table."""
    root = Path(__file__).resolve().parents[2]
    name = f"FLASK_{field.upper()}"
    assert f"# {name}=" in (root / ".env.sample").read_text(), f"{name} missing from .env.sample"
    table = (root / "docs" / "configuration.md").read_text()
    assert f"| `{name}`" in table, f"{name} missing from docs/configuration.md"
