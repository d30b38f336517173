"""What a new operator types on day one either works or fails with one line, never a traceback.

Each case runs the real command as its own process and checks the exit status, a single line on
stderr naming the problem, and that no password reaches the output.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from authsvc.config import ConfigError, Settings
from tests import commands

# --- a relative FLASK_INSTANCE_PATH (the sample's own ./instance) ---------------------------------


@pytest.mark.parametrize("value", ["./instance", "instance", "run/../instance"])
def test_a_relative_instance_path_is_taken_from_the_working_directory(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"FLASK_INSTANCE_PATH": value})
    assert settings.instance_path == tmp_path / "instance"
    assert settings.instance_path.is_absolute()


def test_an_empty_instance_path_is_one_line_naming_the_variable():
    """Empty would silently mean the working directory, whose mode start-up then tightens to 0700."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FLASK_INSTANCE_PATH": ""})
    assert str(caught.value).startswith("FLASK_INSTANCE_PATH:") and "\n" not in str(caught.value)


def test_flask_command_with_the_samples_relative_instance_path_works(tmp_path: Path):
    result = commands.flask(tmp_path, "routes", FLASK_INSTANCE_PATH="./instance")
    assert result.returncode == 0, result.output
    assert "/token/" in result.stdout
    assert (tmp_path / "instance" / "jwt_secret_key.secret").is_file()


def test_flask_command_with_an_empty_instance_path_exits_with_one_line(tmp_path: Path):
    result = commands.flask(tmp_path, "routes", FLASK_INSTANCE_PATH="")
    commands.assert_one_line_error(result, mentions="FLASK_INSTANCE_PATH")
    assert os.listdir(tmp_path) == []
