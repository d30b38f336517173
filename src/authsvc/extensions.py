"""App-wide accessors: the settings and the security primitives built once per app.

Anything that runs inside an app context (routes, commands, the benchmarks) asks here, so none of
them has to import the HTTP layer to find them.
"""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app

from authsvc.config import Settings
from authsvc.security import PasswordHasher, TokenCodec

HASHER = "authsvc.hasher"
CODEC = "authsvc.codec"
SETTINGS = "authsvc.settings"


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[SETTINGS] = settings
    app.extensions[HASHER] = PasswordHasher(settings.bcrypt_rounds)
    app.extensions[CODEC] = TokenCodec.from_settings(settings)


def get_hasher() -> PasswordHasher:
    return cast(PasswordHasher, current_app.extensions[HASHER])


def get_codec() -> TokenCodec:
    return cast(TokenCodec, current_app.extensions[CODEC])


def get_settings() -> Settings:
    return cast(Settings, current_app.extensions[SETTINGS])
