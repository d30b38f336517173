"""``/openapi.json`` (generated from the routes' pydantic models) and ``/docs`` (Swagger UI, served
from the assets of the flask-openapi3-swagger package, so it works with no internet)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import flask_openapi3_swagger
from flask import Blueprint, Response, current_app, jsonify, render_template
from flask_openapi3.openapi import OpenAPI

SWAGGER_ASSETS = Path(flask_openapi3_swagger.__file__).parent / "templates" / "swagger"

bp = Blueprint("docs", __name__, static_folder=SWAGGER_ASSETS, static_url_path="/docs/assets")


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document."""
    return jsonify(cast(OpenAPI, current_app).api_doc)  # current_app is typed Flask; ours is OpenAPI


@bp.get("/docs")
def docs() -> str:
    """Swagger UI for the document above."""
    return render_template("docs.html")
