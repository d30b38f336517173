"""authsvc: a JWT authentication service for REST APIs and single-page apps."""

from authsvc.app import create_app

__all__ = ["create_app"]
