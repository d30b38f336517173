"""Authenticated encryption for what the database must keep but must not show: AES-256-GCM under a
key derived by HKDF-SHA256 from FLASK_SECRET_KEY, one derived key per purpose (HKDF's ``info``).

A row's id is the associated data, so a sealed value copied into another row fails to open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


def b64url(data: bytes) -> str:
    """Base64url without padding, the form JOSE uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SealedValueInvalid(ValueError):
    """A sealed value another secret sealed, or that was altered."""


class Sealer:
    """Seals and opens values under one derived key (HKDF ``info``: one key per purpose)."""

    def __init__(self, secret_key: str, *, info: bytes) -> None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
        self._aead = AESGCM(hkdf.derive(secret_key.encode()))

    def seal(self, data: bytes, row_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)  # random per seal: AES-GCM must never reuse one under a key
        return b64url(nonce + self._aead.encrypt(nonce, data, row_id.encode()))

    def open(self, sealed: str, row_id: str) -> bytes:
        """The plain bytes; ``ValueError`` when another secret sealed them, or they were altered."""
        try:
            blob = b64url_decode(sealed)
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], row_id.encode())
        except (InvalidTag, ValueError) as error:
            raise SealedValueInvalid("sealed value does not open with this secret") from error
