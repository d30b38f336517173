"""The production server's master limits glibc's malloc arenas before it forks a worker.

Run in one child interpreter: importing ``authsvc.gunicorn_conf`` sets ``PROMETHEUS_MULTIPROC_DIR``,
which must not leak into this test session, and ``ctypes.CDLL`` is replaced there to record calls.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from typing import Any

import pytest

from tests.commands import environment

PROGRAM = """
import ctypes, os, platform, tempfile
calls = []
real_cdll = ctypes.CDLL

class Libc:
    def mallopt(self, option, value):
        calls.append((option, value))
        return 1

class NotGlibc:
    pass

os.environ.pop("MALLOC_ARENA_MAX", None)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()
ctypes.CDLL = lambda name: Libc()
from authsvc import gunicorn_conf

class Server:
    def halt(self, reason, exit_status):
        raise SystemExit(exit_status)

results = {}
gunicorn_conf.on_starting(Server())
results["on_starting"] = calls[:]
calls.clear()
os.environ["MALLOC_ARENA_MAX"] = "4"
gunicorn_conf.limit_malloc_arenas()
results["operator"] = calls[:]
del os.environ["MALLOC_ARENA_MAX"]
os.environ["GLIBC_TUNABLES"] = "glibc.malloc.check=0:glibc.malloc.arena_max=4"
gunicorn_conf.limit_malloc_arenas()
results["tunables"] = calls[:]
del os.environ["GLIBC_TUNABLES"]
ctypes.CDLL = lambda name: NotGlibc()
gunicorn_conf.limit_malloc_arenas()
results["not glibc"] = "started"
results["glibc"] = real_cdll(None).mallopt(-8, 2) if platform.libc_ver()[0] == "glibc" else None
print(results)
"""


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=environment(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_master_limits_each_worker_to_two_malloc_arenas(results):
    assert results["on_starting"] == [(-8, 2)]  # M_ARENA_MAX, before any worker is forked


def test_an_operators_own_malloc_arena_max_is_left_to_glibc(results):
    assert results["operator"] == []
    assert results["tunables"] == []


def test_glibc_takes_the_setting(results):
    if results["glibc"] is None:
        pytest.skip("not glibc: there is no mallopt to call")
    assert results["glibc"] == 1  # mallopt's success


def test_a_libc_without_mallopt_starts_all_the_same(results):
    assert results["not glibc"] == "started"
