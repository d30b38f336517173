"""``/demo``: a reference single-page app (static HTML and plain JavaScript, no build step)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("demo", __name__)


@bp.get("/demo")
def page() -> str:
    """Sign in with cookie mode, keep the access token in memory, refresh silently, sign out."""
    return render_template("demo.html")
