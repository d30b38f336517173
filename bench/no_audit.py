"""authsvc as shipped, less one statement: the ``audit_event`` INSERT (the "without" side of the
``audit`` rows). Serve it as ``bench.no_audit:create_app()``; for the benchmark only, never deployed.

``audit.record`` runs unchanged: it builds the row and the JSON line, calls ``session.connection()``
and ``execute`` as before, and its line and metrics still follow the commit. Only the statement it
executes, ``audit._INSERT``, is swapped for ``SKIP``, which SQLAlchemy's ``Connection.execute`` hands
the call to (``_execute_on_connection``, the hook every executable statement implements) and which
sends nothing to the database. The services import ``record`` by name, so swapping the function
itself would need a patch per module; swapping the statement reaches every caller at once.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

import authsvc
from authsvc import audit


class SkippedInsert:
    """A statement that executes as nothing: no SQL, no round trip, no row."""

    def _execute_on_connection(self, connection: Any, distilled_params: Any, execution_options: Any) -> None:
        return None


SKIP = SkippedInsert()


def create_app() -> Flask:
    """authsvc's own factory (settings from the environment), its audit rows left unwritten."""
    audit._INSERT = SKIP  # type: ignore[assignment]  # bench only: the row's INSERT, and nothing else
    return authsvc.create_app()
