"""Signing keys as pure cryptography: making them, naming them (``kid``), publishing them as JWKs, and
sealing private keys for storage. No database, no Flask.

A ``kid`` is always derived, never chosen: an HS256 secret's is an HMAC of a fixed label keyed by the
secret (it names the secret without revealing it); an asymmetric key's is its RFC 7638 thumbprint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Literal, get_args

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authsvc.config import PREFIX, ConfigError
from authsvc.sealing import Sealer, b64url

Algorithm = Literal["HS256", "EdDSA", "ES256", "RS256"]
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
HS256 = "HS256"
RSA_BITS = 2048  # the least RS256 key this service makes or accepts
SECRET_KID_LABEL = b"authsvc jwt kid v1"
SEALING_INFO = b"authsvc signing-key sealing v1"  # HKDF info: this derived key seals nothing else
NONCE_BYTES = 12

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
# The members RFC 7638 hashes for each key type, in its (lexicographic) order.
THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


class KeysUndecryptable(ConfigError):
    """The stored private keys do not open with this FLASK_SECRET_KEY: a configuration error, which
    stops start-up with one line rather than let the service make new keys and strand the old ones."""

    def __init__(self) -> None:
        super().__init__(
            f"{PREFIX}SECRET_KEY: cannot decrypt the stored signing keys; it is not the key they were "
            "sealed with (set that one again; new keys are never made in their place)"
        )


def secret_kid(secret: str) -> str:
    """The ``kid`` of an HS256 secret: 128 bits of HMAC-SHA256(secret, fixed label).

    One-way, so publishing it in every token header tells nobody anything about the secret, yet each
    process derives the same name from the same secret without storing anything.
    """
    return b64url(hmac.new(secret.encode(), SECRET_KID_LABEL, hashlib.sha256).digest()[:16])


def generate(algorithm: str) -> PrivateKey:
    """A new private key for an asymmetric algorithm (Ed25519, P-256, or RSA of ``RSA_BITS``)."""
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    raise ValueError(f"{algorithm} has no key pair")


def fits(algorithm: str, key: PrivateKey | PublicKey) -> bool:
    """Whether ``key`` is of the kind ``algorithm`` signs with (a stored row cannot swap them)."""
    if algorithm == "EdDSA":
        return isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey)
    if algorithm == "ES256":
        return isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(
            key.curve, ec.SECP256R1
        )
    if algorithm == "RS256":
        return isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size >= RSA_BITS
    return False


def _int(value: int) -> str:
    return b64url(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def key_members(public_key: PublicKey) -> dict[str, str]:
    """The public key's own JWK members (RFC 7517/7518/8037), nothing else."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        numbers = public_key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
    numbers_rsa = public_key.public_numbers()
    return {"kty": "RSA", "n": _int(numbers_rsa.n), "e": _int(numbers_rsa.e)}


def thumbprint(members: dict[str, str]) -> str:
    """RFC 7638: SHA-256 of the required members as compact JSON in lexicographic order."""
    required = {name: members[name] for name in THUMBPRINT_MEMBERS[members["kty"]]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())


def public_jwk(private_key: PrivateKey, algorithm: str) -> dict[str, str]:
    """What the JWKS publishes for a key: ``kid`` (its thumbprint), ``kty``, ``alg``, ``use`` and the
    key's members. The private parts never enter this dictionary."""
    members = key_members(private_key.public_key())
    return {"kid": thumbprint(members), "kty": members["kty"], "alg": algorithm, "use": "sig", **members}


class KeySealer:
    """Seals private keys for the database (``sealing.Sealer``, under a key derived for this alone).
    The ``kid`` is the associated data, so a sealed key moved to another row fails to open instead
    of signing under a name that is not its own."""

    def __init__(self, secret_key: str) -> None:
        self._box = Sealer(secret_key, info=SEALING_INFO)

    def seal(self, private_key: PrivateKey, kid: str) -> str:
        der = private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return self._box.seal(der, kid)

    def open(self, sealed: str, kid: str) -> PrivateKey:
        """The private key, or ``KeysUndecryptable`` if this secret did not seal it (or it was altered)."""
        try:
            der = self._box.open(sealed, kid)
        except ValueError:
            raise KeysUndecryptable() from None
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise KeysUndecryptable()  # sealed by us, so never: but no other kind may sign
        return key
