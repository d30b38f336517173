"""The client's suite runs against real authsvc servers started by its own pytest plugin.

No ``__init__.py`` here: the repository root's suite is the package ``tests``, and a second one of
that name would collide when ``uv run pytest`` at the root collects both. So every module here has a
name of its own, and helpers live in fixtures.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def authsvc_server_settings() -> dict[str, str]:
    """The session's server reloads its keys every second, so a rotation signs with the new key at once."""
    return {"FLASK_JWT_KEYS_RELOAD_INTERVAL": "1"}
