"""``FLASK_DEBUG`` in production stops start-up: debug mode puts exception names into 500 answers, and
``flask run`` with it serves Werkzeug's interactive debugger, which runs any code a visitor types.

``FLASK_DEBUG`` is Flask's own variable, read the way Flask's command line reads it: on unless empty,
``0``, ``false`` or ``no`` (any case). The app's own debug flag is set from the same checked value.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from authsvc import create_app
from authsvc.config import ConfigError, Settings
from authsvc.db import get_engine
from tests.conftest import make_settings

STRONG = "_M65BT2jP0Uv3ANPZ7wgU9-0HMEihgsL"  # random-looking: production refuses a patterned secret
PRODUCTION = {"FLASK_ENVIRONMENT": "production", "FLASK_JWT_SECRET_KEY": STRONG, "FLASK_SECRET_KEY": STRONG}
ON = ["1", "true", "True", "yes", "on", "off", "2", " 0"]  # "off" and " 0" are on for Flask's CLI too
OFF = ["", "0", "false", "FALSE", "no", "No"]


@pytest.mark.parametrize("value", ON)
def test_production_refuses_flask_debug(value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**PRODUCTION, "FLASK_DEBUG": value})
    message = str(caught.value)
    assert message.startswith("FLASK_DEBUG: ") and "\n" not in message


@pytest.mark.parametrize("value", OFF)
def test_production_accepts_flask_debug_off(value):
    assert Settings.from_env({**PRODUCTION, "FLASK_DEBUG": value}).debug is False


@pytest.mark.parametrize("value", ["1", "true"])
def test_development_may_debug(value):
    assert Settings.from_env({"FLASK_DEBUG": value}).debug is True


def test_the_apps_debug_flag_is_the_checked_one(tmp_path, monkeypatch):
    """Flask alone would JSON-decode FLASK_DEBUG=no into the string "no", which is truthy."""
    monkeypatch.setenv("FLASK_DEBUG", "no")
    quiet = create_app(make_settings(tmp_path))
    monkeypatch.setenv("FLASK_DEBUG", "1")
    debugging = create_app(make_settings(tmp_path / "debugging", debug=True))
    for app in (quiet, debugging):
        get_engine(app).dispose()  # close what the app opened here, not in a later test's garbage collection
    assert (quiet.debug, debugging.debug) == (False, True)


def test_app_config_holds_only_checked_values(make_app, monkeypatch):
    """FLASK_* variables reach app.config only through the checked settings, never copied raw."""
    monkeypatch.setenv("FLASK_JWT_SECRET_KEY", "raw-secret-from-the-environment")
    monkeypatch.setenv("FLASK_SECRET_KEY", "raw-secret-from-the-environment")
    app = make_app()
    assert "JWT_SECRET_KEY" not in app.config
    assert app.config["SECRET_KEY"] == "nB4vX9qLp2ZkR7mWc5TsJ8yHf3GdE1aU6oKi0zQe"  # make_settings' value


def flask_routes(tmp_path: Path, *options: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    environ.update(
        PRODUCTION,
        FLASK_INSTANCE_PATH=str(tmp_path / "instance"),
        FLASK_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "authsvc:create_app", *options, "routes"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("options", "env"), [((), {"FLASK_DEBUG": "1"}), (("--debug",), {})], ids=["FLASK_DEBUG=1", "--debug"]
)
def test_flask_command_in_production_with_debug_exits_with_one_line(tmp_path, options, env):
    result = flask_routes(tmp_path, *options, **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "FLASK_DEBUG" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_flask_command_in_production_without_debug_starts(tmp_path):
    result = flask_routes(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "/token/" in result.stdout
