"""The email settings of API.md section 6: defaults, refusals, and what production requires."""

from __future__ import annotations

import pytest

from authsvc.config import ConfigError, Settings

STRONG = "_M65BT2jP0Uv3ANPZ7wgU9-0HMEihgsL"
PRODUCTION = {"FLASK_ENVIRONMENT": "production", "FLASK_JWT_SECRET_KEY": STRONG, "FLASK_SECRET_KEY": STRONG}
SMTP = "smtp://mailer:s3cret-pass@mail.example.com:587"


def test_defaults():
    settings = Settings.from_env({})
    assert settings.mail_url == "console://" and not settings.mail_on
    assert settings.link_base == "http://127.0.0.1:8000/demo"
    assert settings.mail_sender == "no-reply@127.0.0.1"
    assert settings.email_verification == "optional"
    assert (settings.reset_token_expires, settings.verify_token_expires) == (1800, 86400)
    assert (settings.ratelimit_forgot_address, settings.ratelimit_forgot_ip) == ("5/hour", "20/hour")
    assert settings.mail_send_in_background is True


def test_the_link_base_and_sender_follow_the_public_url():
    settings = Settings.from_env({"FLASK_PUBLIC_URL": "https://Auth.Example.com/"})
    assert settings.link_base == "https://auth.example.com/demo"
    assert settings.mail_sender == "no-reply@auth.example.com"
    own = Settings.from_env(
        {
            "FLASK_MAIL_LINK_BASE": "https://app.example.com/account/",
            "FLASK_MAIL_FROM": "Accounts <a@example.com>",
        }
    )
    assert own.link_base == "https://app.example.com/account"
    assert own.mail_sender == "Accounts <a@example.com>"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FLASK_MAIL_URL", "smtp:/mail.example.com"),
        ("FLASK_MAIL_URL", "http://mail.example.com"),
        ("FLASK_MAIL_URL", "smtp://u:p@mail.example.com:notaport"),
        ("FLASK_MAIL_URL", "smtp://:p@mail.example.com"),
        ("FLASK_MAIL_LINK_BASE", "app.example.com/reset"),
        ("FLASK_MAIL_LINK_BASE", "https://app.example.com/page#already"),
        ("FLASK_MAIL_LINK_BASE", "javascript:alert(1)"),
        ("FLASK_MAIL_FROM", "nobody"),
        ("FLASK_MAIL_FROM", "a@example.com\r\nBcc: victim@example.com"),
        ("FLASK_MAIL_TEMPLATES", "/nonexistent/templates"),
        ("FLASK_MAIL_TIMEOUT", "0"),
        ("FLASK_EMAIL_VERIFICATION", "mandatory"),
        ("FLASK_RESET_TOKEN_EXPIRES", "0"),
        ("FLASK_VERIFY_TOKEN_EXPIRES", "soon"),
        ("FLASK_RATELIMIT_FORGOT_ADDRESS", "lots"),
        ("FLASK_RATELIMIT_FORGOT_IP", "5 per hour please"),
    ],
)
def test_a_bad_mail_setting_is_one_line_naming_the_variable(variable, value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable}:") and "\n" not in message


def test_a_refused_mail_url_never_repeats_its_password():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FLASK_MAIL_URL": "smtp://mailer:s3cret-pass@mail.example.com:99999"})
    assert "s3cret-pass" not in str(caught.value)


def test_production_with_mail_on_needs_the_public_url():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**PRODUCTION, "FLASK_MAIL_URL": SMTP})
    assert str(caught.value).startswith("FLASK_PUBLIC_URL:")
    assert "s3cret" not in str(caught.value)
    settings = Settings.from_env(
        {**PRODUCTION, "FLASK_MAIL_URL": SMTP, "FLASK_PUBLIC_URL": "https://auth.example.com"}
    )
    assert settings.mail_on and settings.link_base == "https://auth.example.com/demo"


def test_production_requiring_verification_needs_a_real_mail_url():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**PRODUCTION, "FLASK_EMAIL_VERIFICATION": "required"})
    assert str(caught.value).startswith("FLASK_MAIL_URL:")


def test_production_without_mail_starts_and_makes_no_link():
    settings = Settings.from_env(PRODUCTION)
    assert not settings.mail_on and settings.link_base is None


def test_create_app_stops_with_one_line_on_production_mail_without_a_public_url(
    monkeypatch, capsys, tmp_path
):
    from authsvc import create_app

    for key, value in {**PRODUCTION, "FLASK_MAIL_URL": SMTP, "FLASK_INSTANCE_PATH": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as stopped:
        create_app()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FLASK_PUBLIC_URL" in err and "s3cret" not in err
