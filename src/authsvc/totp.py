"""Second-factor primitives, pure: TOTP codes (RFC 6238 via pyotp: SHA-1, 6 digits, 30 s steps),
the enrolment QR code (segno, as SVG), and recovery codes. No database, no Flask.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from datetime import datetime

import pyotp
import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

STEP_SECONDS = 30
DRIFT_STEPS = 1  # the previous and the next step are accepted too: clocks and typing take time
DIGITS = 6
SECRET_CHARS = 32  # base32: 160 bits, RFC 4226's recommended length
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32, written in lower case
RECOVERY_LENGTH = 10  # 50 random bits, shown as xxxxx-xxxxx
MAX_CODE_LENGTH = 64  # longer input is no code of ours: refused before any work


def new_secret() -> str:
    return pyotp.random_base32(SECRET_CHARS)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (from the QR code, or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code with its namespace and no XML declaration: a page can put it in its
    markup, parse it, or show it as an image."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer, kind="svg", xmldecl=False, svgns=True, nl=False, scale=4, border=2
    )
    return buffer.getvalue().decode()


def step_at(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, *, now: datetime) -> int | None:
    """The time step ``code`` belongs to, among the current one and its neighbours; ``None`` if none.

    Each candidate is compared in constant time, and all three are always computed.
    """
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = step_at(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


def code_at(secret: str, moment: datetime) -> str:
    """The code an authenticator shows at ``moment`` (for the command line and the tests)."""
    return pyotp.TOTP(secret).generate_otp(step_at(moment))


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalize_recovery_code(code: str) -> str | None:
    """A recovery code as stored: case, spaces and hyphens ignored; ``None`` if it cannot be one."""
    raw = code.replace("-", "").replace(" ", "").lower()
    if len(raw) != RECOVERY_LENGTH or any(char not in RECOVERY_ALPHABET for char in raw):
        return None
    return raw


def is_totp_shaped(code: str) -> bool:
    stripped = code.replace(" ", "")
    return len(stripped) == DIGITS and stripped.isascii() and stripped.isdigit()


class RecoveryHasher:
    """HMAC-SHA256 of a normalised recovery code, keyed by a key derived from FLASK_SECRET_KEY."""

    INFO = b"authsvc recovery codes v1"

    def __init__(self, secret_key: str) -> None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=self.INFO)
        self._key = hkdf.derive(secret_key.encode())

    def hash(self, normalized: str) -> str:
        return hmac.new(self._key, normalized.encode(), hashlib.sha256).hexdigest()
