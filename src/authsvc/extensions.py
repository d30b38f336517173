"""App-wide accessors: the settings and the security primitives built once per app.

Anything that runs inside an app context (routes, commands, the benchmarks) asks here, so none of
them has to import the HTTP layer to find them.
"""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app

from authsvc.config import Settings
from authsvc.keyring import Loader
from authsvc.security import PasswordHasher, TokenCodec
from authsvc.services.mfa import MfaSecrets

HASHER = "authsvc.hasher"
CODEC = "authsvc.codec"
SETTINGS = "authsvc.settings"
MFA = "authsvc.mfa"


def init_app(app: Flask, settings: Settings, key_loader: Loader | None = None) -> None:
    """``key_loader`` reads the stored key pairs for the codec's key ring (``services.keys.loader``)."""
    app.extensions[SETTINGS] = settings
    app.extensions[HASHER] = PasswordHasher(settings.bcrypt_rounds)
    app.extensions[CODEC] = TokenCodec.from_settings(settings, key_loader)
    app.extensions[MFA] = MfaSecrets.from_secret(settings.secret_key)


def get_hasher() -> PasswordHasher:
    return cast(PasswordHasher, current_app.extensions[HASHER])


def get_codec(app: Flask | None = None) -> TokenCodec:
    return cast(TokenCodec, (app or current_app).extensions[CODEC])


def get_mfa_keys() -> MfaSecrets:
    return cast(MfaSecrets, current_app.extensions[MFA])


def get_settings() -> Settings:
    return cast(Settings, current_app.extensions[SETTINGS])
