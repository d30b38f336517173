"""Bearer tokens: read the Authorization header and resolve it to an identity, or refuse."""

from __future__ import annotations

from flask import request

from authsvc.db import get_engine
from authsvc.exceptions import Forbidden, TokenInvalid, TokenMissing
from authsvc.extensions import get_codec
from authsvc.models import Role
from authsvc.schemas import is_text
from authsvc.security import MAX_TOKEN_LENGTH
from authsvc.services import auth

MAX_HEADER_LENGTH = MAX_TOKEN_LENGTH + 16


def bearer_token() -> str:
    """The token of ``Authorization: Bearer <token>``; the scheme name is case-insensitive (RFC 7235).

    No header at all is ``TokenMissing``; any other value that is not a well-formed bearer
    credential is ``TokenInvalid``, and an over-long one, or one that is not text, is refused before
    it is parsed.
    """
    header = request.headers.get("Authorization")
    if header is None:
        raise TokenMissing()
    # Servers decode header bytes as latin-1, but one decoding with surrogateescape would hand us a
    # string no token can be (and that the JWT library cannot encode).
    if len(header) > MAX_HEADER_LENGTH or not is_text(header):
        raise TokenInvalid()
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise TokenInvalid()
    return token


def current_identity() -> auth.Identity:
    """The identity of a live access token, or ``TokenMissing``/``TokenInvalid``."""
    return auth.verify_access(engine=get_engine(), codec=get_codec(), token=bearer_token())


def require_admin() -> auth.Identity:
    """Like ``current_identity``, but only for admins; the role is read from the database."""
    identity = current_identity()
    if identity.user.role != Role.ADMIN:
        raise Forbidden("Admin privileges are required.")
    return identity
