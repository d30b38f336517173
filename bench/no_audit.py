"""authsvc as shipped, less one statement: the ``audit_event`` INSERT (the "without" side of the
``audit`` rows). Serve it as ``bench.no_audit:create_app()``; for the benchmark only, never deployed.

``audit.record`` runs unchanged: it builds the row and the JSON line, calls ``session.connection()``
as before, and its line and metrics still follow the commit. Only ``audit._write_row``, the one call
that sends the INSERT to the driver, is swapped for ``skip_row``, which sends nothing. The services
import ``record`` by name, so swapping the function itself would need a patch per module; ``record``
looks ``_write_row`` up in its module at each call, so swapping it reaches every caller at once.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

import authsvc
from authsvc import audit


def skip_row(connection: Any, row: Any) -> None:
    """The row's write, as nothing: no SQL, no round trip, no row."""


def create_app() -> Flask:
    """authsvc's own factory (settings from the environment), its audit rows left unwritten."""
    audit._write_row = skip_row  # bench only: the row's INSERT, and nothing else
    return authsvc.create_app()
