"""Development secrets made once in the instance folder: every process that starts agrees on them.

Several server workers start together on a fresh checkout. Each must end up with the one secret that
was kept, never with a file another process has created but not yet written (an empty secret signs
tokens anyone can forge).
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from authsvc import config
from authsvc.config import ConfigError, Settings

PROCESSES = 16
ROUNDS = 10  # one race in a few caught the old code's empty read: ten make missing it unlikely


def race_for_secrets(instance: Path, start: Any, results: Any) -> None:
    start.wait()
    settings = Settings(instance_path=instance).with_instance_secrets()
    results.put((settings.jwt_secret_key, settings.secret_key))


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_sixteen_processes_starting_at_once_get_the_same_non_empty_secrets(tmp_path: Path, round_: int):
    instance = tmp_path / "instance"
    # fork: the children start with authsvc already imported, so they are ready together (and cheap)
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads; these children only touch files.
        warnings.simplefilter("ignore", DeprecationWarning)
        children = [
            context.Process(target=race_for_secrets, args=(instance, start, results))
            for _ in range(PROCESSES)
        ]
        for child in children:
            child.start()
    start.set()  # all at once
    answers = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert len(set(answers)) == 1, answers
    jwt_secret, flask_secret = answers[0]
    assert len(jwt_secret) >= 64 and len(flask_secret) >= 64 and jwt_secret != flask_secret
    assert (instance / "jwt_secret_key.secret").read_text() == jwt_secret
    assert sorted(p.name for p in instance.iterdir()) == ["jwt_secret_key.secret", "secret_key.secret"]


def test_a_reader_arriving_while_the_secret_is_being_written_never_sees_an_empty_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Another process asks for the secret at the worst moment: while the first one is writing it."""
    path = tmp_path / "jwt_secret_key.secret"
    seen_by_the_other: list[str] = []
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        handle = real_fdopen(fd, *args, **kwargs)
        if not seen_by_the_other and "w" in (args[0] if args else kwargs.get("mode", "r")):
            real_write = handle.write

            def write(text: str) -> int:
                if not seen_by_the_other:
                    seen_by_the_other.append("")  # mark first: the other process's own write is not paused
                    seen_by_the_other[0] = config._instance_secret(path)
                return real_write(text)

            handle.write = write
        return handle

    monkeypatch.setattr(os, "fdopen", fdopen)
    first = config._instance_secret(path)
    monkeypatch.undo()
    assert seen_by_the_other, "the interleaving did not happen"
    assert seen_by_the_other[0] != ""
    assert seen_by_the_other[0] == first == path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.parametrize("content", ["", "  \n"], ids=["empty", "whitespace"])
def test_an_empty_secret_file_is_refused_not_used(tmp_path: Path, content: str):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "jwt_secret_key.secret").write_text(content)
    with pytest.raises(ConfigError) as raised:
        Settings(instance_path=instance).with_instance_secrets()
    message = str(raised.value)
    assert message.startswith("FLASK_JWT_SECRET_KEY: ") and "\n" not in message
    assert "jwt_secret_key.secret" in message


def test_a_kept_secret_is_read_back_unchanged(tmp_path: Path):
    instance = tmp_path / "instance"
    first = Settings(instance_path=instance).with_instance_secrets()
    again = Settings(instance_path=instance).with_instance_secrets()
    assert (again.jwt_secret_key, again.secret_key) == (first.jwt_secret_key, first.secret_key)
